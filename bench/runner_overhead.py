"""Local runner overhead: a 1,000-node DAG of no-op steps vs spawning the same processes.

    python bench/runner_overhead.py [--nodes 1000] [--parallelism 8]

For each runtime (process, and sandbox when bubblewrap is installed) it runs a DAG of
``--nodes`` independent ``true`` tasks under workflow ``parallelism``, and, in the same run,
spawns the same commands (plain ``true``; ``bwrap ... true`` for the sandbox) from a pool of
the same size. It prints both wall times, the overhead per node and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backends.local import LocalBackend
from engine.backends.local.operator import PodLaunch
from engine.backends.local.runtime import plan_pod, runtime_named
from engine.backends.local.store import LocalStore


def manifest(nodes: int, parallelism: int) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "overhead-"},
        "spec": {
            "entrypoint": "main",
            "parallelism": parallelism,
            "templates": [
                {
                    "name": "main",
                    "dag": {"tasks": [{"name": f"t{i}", "template": "noop"} for i in range(nodes)]},
                },
                {"name": "noop", "container": {"image": "busybox", "command": ["true"]}},
            ],
        },
    }


def bare_spawn(argvs: list[list[str]], parallelism: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        list(pool.map(lambda argv: subprocess.run(argv, check=True), argvs))
    return time.perf_counter() - started


def sandbox_argv(home: Path) -> list[str]:
    """The bwrap command line the sandbox runtime builds for one no-op pod."""
    store = LocalStore(home)
    workflow = manifest(1, 1)
    workflow["metadata"]["name"] = "probe"
    store.create(workflow)
    launch = PodLaunch("probe-1", "probe.t0", workflow["spec"]["templates"][1], None)
    plan = plan_pod(store, workflow, launch)
    argv, _, _ = runtime_named("sandbox").command(plan)
    return argv


def measure(runtime: str, nodes: int, parallelism: int) -> None:
    with tempfile.TemporaryDirectory(prefix="drover-bench-") as tmp:
        home = Path(tmp)
        argv = sandbox_argv(home / "probe") if runtime == "sandbox" else ["true"]
        baseline = bare_spawn([argv] * nodes, parallelism)
        backend = LocalBackend(home / "runner", runtime=runtime)
        started = time.perf_counter()
        workflow = backend.run(manifest(nodes, parallelism))
        wall = time.perf_counter() - started
    assert workflow["status"]["phase"] == "Succeeded", workflow["status"].get("message")
    overhead_ms = (wall - baseline) / nodes * 1000
    print(
        f"{runtime:8} nodes={nodes} parallelism={parallelism}  "
        f"bare spawn {baseline:6.2f}s ({baseline / nodes * 1000:5.2f} ms/node)  "
        f"runner {wall:6.2f}s ({wall / nodes * 1000:5.2f} ms/node)  "
        f"overhead {overhead_ms:5.2f} ms/node  ratio {wall / baseline:4.2f}x  "
        f"target <5 ms/node: {'OK' if overhead_ms < 5 else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=8)
    args = parser.parse_args()
    measure("process", args.nodes, args.parallelism)
    if shutil.which("bwrap"):
        measure("sandbox", args.nodes, args.parallelism)
    else:
        print("sandbox  skipped: bubblewrap is not installed")


if __name__ == "__main__":
    main()
