"""The in-pod agent on a real pytest suite: plain pytest vs the agent as 1 shard and as N shards.

    python bench/agent_pytest_suite.py SUITE [--python PY] [--shards 2] [--repeat 3]
        [--agent-dir agent-image] [--env NAME=VALUE ...]

``SUITE`` is a test project's directory, say an sdist from PyPI (``pip download --no-deps
--no-binary :all: packaging==24.2``; its tests import ``src/``, so ``--env PYTHONPATH=src``).
``--python`` is the interpreter that has the suite's test dependencies; it runs plain pytest, the
agent (standard library only, from ``--agent-dir``, so an older checkout can be compared) and
therefore the agent's pytest. Discovery (Drover's own, through that interpreter) gives the
scenario ids; the shards are cut round-robin and run at the same time, as worker pods would.

Each configuration runs ``--repeat`` times; the table shows the fastest and the median wall
time, the median CPU time of all processes (user + system: steadier than wall time on a shared
machine) and the counts, and flags a run in which a scenario got no result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.discovery.pytest_collection import discover_pytest  # noqa: E402

SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|error|errors|xfailed|xpassed)\b")


def plain_pytest(suite: Path, python: str, env: dict[str, str]) -> tuple[float, Counter[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts: Counter[str] = Counter()
    for number, word in SUMMARY.findall(last):
        status = {"errors": "error", "xfailed": "skipped", "xpassed": "passed"}.get(word, word)
        counts[status] += int(number)
    return elapsed, counts


def write_plan(plan_dir: Path, suite: Path, shards: list[list[str]]) -> None:
    plan_dir.mkdir(parents=True)
    runner = {"kind": "pytest", "command": None, "args": []}
    project = {"repo": None, "path": str(suite), "ref": "HEAD", "setup": [], "runner": runner}
    run = {"version": 1, "execution": "bench", "run_id": None, "project": project}
    workers = {
        str(index): [{"id": i, "name": "", "location": i, "tags": []} for i in ids]
        for index, ids in enumerate(shards)
    }
    group = {
        "version": 1,
        "group": "main.all",
        "flow": "main",
        "name": "all",
        "threads": len(shards),
        "strategy": "round-robin",
        "retries": 0,
        "scenario_timeout": None,
        "workers": workers,
    }
    (plan_dir / "run.json").write_text(json.dumps(run))
    (plan_dir / "main.all.json").write_text(json.dumps(group))


def agent_run(
    suite: Path, python: str, env: dict[str, str], agent_dir: Path, shards: list[list[str]]
) -> tuple[float, Counter[str], int]:
    with tempfile.TemporaryDirectory(prefix="drover-bench-") as scratch:
        plan = Path(scratch) / "plan"
        write_plan(plan, suite, shards)
        paths = [p for p in (str(agent_dir), env.get("PYTHONPATH")) if p]
        agent_env = {**env, "PYTHONPATH": os.pathsep.join(paths)}
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                [
                    *(python, "-m", "drover_agent", "run", "--plan-dir", str(plan)),
                    *("--workspace", str(suite), "--group", "main.all", "--shard", str(index)),
                    *("--results", str(Path(scratch) / f"results-{index}.json")),
                ],
                env=agent_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for index in range(len(shards))
        ]
        for process in processes:
            process.wait()
        elapsed = time.perf_counter() - started
        counts: Counter[str] = Counter()
        reported = 0
        for index in range(len(shards)):
            results = json.loads((Path(scratch) / f"results-{index}.json").read_text())["results"]
            reported += len(results)
            counts.update(r["status"] for r in results)
    return elapsed, counts, reported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agent-dir", type=Path, default=ROOT / "agent-image")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    suite = args.suite.resolve()
    env = {**os.environ, **dict(e.split("=", 1) for e in args.env)}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)  # the suite's own plugins load, as in CI
    os.environ.update(env)  # discovery runs under the same environment
    ids = [s.id for s in discover_pytest(suite, python=args.python)]
    print(f"{suite.name}: {len(ids)} scenarios; agent from {args.agent_dir}")

    configurations = {
        "plain pytest -q": lambda: (*plain_pytest(suite, args.python, env), len(ids)),
        "agent, 1 shard": lambda: agent_run(suite, args.python, env, args.agent_dir, [ids]),
        f"agent, {args.shards} shards at once": lambda: agent_run(
            suite,
            args.python,
            env,
            args.agent_dir,
            [ids[i :: args.shards] for i in range(args.shards)],
        ),
    }
    for label, measure in configurations.items():
        times, cpu = [], []
        for _ in range(args.repeat):
            before = children_cpu()
            elapsed, counts, reported = measure()
            times.append(elapsed)
            cpu.append(children_cpu() - before)
        ok = "" if reported == len(ids) else f"  ONLY {reported} RESULTS"
        print(
            f"{label:26} wall best {min(times):6.2f} s  median {statistics.median(times):6.2f} s"
            f"  cpu median {statistics.median(cpu):6.2f} s  {dict(sorted(counts.items()))}{ok}",
            flush=True,
        )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
