"""Compile a very large execution: 50 flows x 10 groups x 20 threads, 100,000 scenarios.

Run: ``python bench/compile_large.py``

Measures Drover's compile (plan + Workflow + plan ConfigMaps) and the Workflow's size, against
the naive Hera form built in the same run: one DAG task per worker, each carrying its scenario
ids as an argument, which is what you get without fan-out and an out-of-manifest plan.
Targets: under 0.5 s and under 100 KB for the Workflow document.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from hera.workflows import DAG, Container, Parameter, Task, Workflow

from engine.compiler import compile_plan
from engine.planning import ExecutionPlan, plan_execution
from engine.spec import Execution

FLOWS, GROUPS, THREADS, SCENARIOS_PER_GROUP = 50, 10, 20, 200
REPEATS = 5


def build_execution() -> Execution:
    rng = random.Random(2026)
    flows = [
        {
            "name": f"flow-{f}",
            "groups": [
                {
                    "name": f"group-{g}",
                    "threads": THREADS,
                    "scenarios": [
                        {
                            "id": f"tests/f{f}/g{g}/test_{s % 20}.py::test_case_{s}",
                            "duration": round(rng.lognormvariate(3, 1), 2),
                        }
                        for s in range(SCENARIOS_PER_GROUP)
                    ],
                }
                for g in range(GROUPS)
            ],
        }
        for f in range(FLOWS)
    ]
    return Execution.model_validate(
        {"name": "bench", "project": {"name": "bench", "repo": "https://x/y.git"}, "flows": flows}
    )


def naive_hera(plan: ExecutionPlan) -> dict[str, Any]:
    """One task per worker, scenarios inline: the form Drover's compiler avoids."""
    with Workflow(generate_name="bench-", entrypoint="main") as w:
        worker = Container(
            name="worker",
            image="python:3.12-slim",
            command=["drover-agent"],
            args=["run", "--scenarios", "{{inputs.parameters.scenarios}}"],
            inputs=[Parameter(name="scenarios")],
        )
        with DAG(name="main"):
            previous: dict[str, list[Task]] = {}
            for group in plan.groups:
                tasks = []
                for index, scenarios in enumerate(group.workers):
                    task = Task(
                        name=f"{group.flow}-{group.name}-{index}",
                        template=worker,
                        arguments={"scenarios": json.dumps([s.id for s in scenarios])},
                    )
                    for before in previous.get(group.flow, []):
                        before >> task
                    tasks.append(task)
                previous[group.flow] = tasks
    document: dict[str, Any] = w.to_dict()
    return document


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def main() -> None:
    execution = build_execution()
    plan_s, plan = timed(lambda: plan_execution(execution))
    compile_s, compiled = timed(lambda: compile_plan(plan))
    dict_s, workflow = timed(compiled.workflow_dict)
    naive_s, naive = timed(lambda: naive_hera(plan))

    drover_total = plan_s + compile_s + dict_s
    drover_size = size(workflow)
    cms = [size(c) for c in compiled.configmaps]
    print(
        f"execution: {FLOWS} flows x {GROUPS} groups x {THREADS} threads = "
        f"{plan.worker_count:,} workers, {plan.scenario_count:,} scenarios "
        f"(median of {REPEATS} runs)"
    )
    print(f"{'':24}{'wall time':>12}{'Workflow size':>16}")
    print(
        f"{'drover (fan-out)':24}{drover_total:>10.3f} s{drover_size / 1000:>13.1f} KB"
        f"   plan {plan_s:.3f} s + compile {compile_s:.3f} s + to_dict {dict_s:.3f} s"
    )
    print(f"{'hera naive (1 task/worker)':24}{naive_s:>10.3f} s{size(naive) / 1000:>13.1f} KB")
    time_ratio, size_ratio = drover_total / naive_s, drover_size / size(naive)
    print(f"ratio drover / naive: time {time_ratio:.3f}, size {size_ratio:.4f}")
    print(
        f"plan ConfigMaps: {len(cms)} ({', '.join(f'{c / 1000:.0f} KB' for c in cms)}), "
        f"each under 1 MiB: {all(c < 1024 * 1024 for c in cms)}"
    )
    verdict = "met" if drover_total < 0.5 and drover_size < 100_000 else "NOT met"
    print(f"target (< 0.5 s, < 100 KB): {verdict}")


if __name__ == "__main__":
    main()
