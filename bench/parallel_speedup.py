"""Parallel speed-up of ``drover run`` on the example shop project: 1 vs 2 workers per group.

Run: ``python bench/parallel_speedup.py``

Runs ``drover run`` on the example execution (embedded Postgres, setup-env, sandboxed workers,
real pytest) with every group at 1 worker, then at 2, and plain ``pytest`` over the same project
in the same run as the baseline. The execution keeps its flows and group order, so the floor is
the longest flow's chain of groups, not the suite's total; each ``drover run`` also includes
starting and stopping its Postgres server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from engine.loading import load_execution
from engine.spec import Execution

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "shop" / "execution.yaml"


def with_threads(execution: Execution, threads: int) -> Execution:
    flows = [
        flow.model_copy(
            update={"groups": [g.model_copy(update={"threads": threads}) for g in flow.groups]}
        )
        for flow in execution.flows
    ]
    return execution.model_copy(update={"flows": flows})


def timed_run(execution: Execution, home: Path) -> float:
    spec, results = home / "execution.yaml", home / "results.json"
    home.mkdir(parents=True)
    spec.write_text(yaml.safe_dump(execution.model_dump(mode="json", exclude_none=True)))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(spec), "--results", str(results)],
        env={**os.environ, "DROVER_HOME": str(home)},
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    outcomes = json.loads(results.read_text())["results"]
    assert len(outcomes) == 24, "every scenario must have an outcome"
    return elapsed


def plain_pytest() -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=SPEC.parent,
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - start


def main() -> None:
    # The example needs no plugins; this machine's installed ones cost ~1.7 s per pytest start.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    execution = load_execution(SPEC)
    with tempfile.TemporaryDirectory(prefix="drover-bench-") as scratch:
        baseline = plain_pytest()
        one = timed_run(with_threads(execution, 1), Path(scratch) / "one")
        two = timed_run(with_threads(execution, 2), Path(scratch) / "two")
    print(f"{'plain pytest, one process':32}{baseline:6.2f} s")
    for label, seconds in (("1 worker per group", one), ("2 workers per group", two)):
        ratio = seconds / baseline
        print(f"{'drover run, ' + label:32}{seconds:6.2f} s   vs plain pytest {ratio:.2f}")
    print(f"speed-up 1 → 2 workers: {one / two:.2f}x on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
