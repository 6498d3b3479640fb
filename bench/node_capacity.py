"""A full machine: many workflows submitted at once, with the node's CPU capacity vs without.

    python bench/node_capacity.py [--workflows 10] [--workers 4] [--seconds 1] [--runtime R]

Submits ``--workflows`` workflows at once (one detached runner each, as the API does), each a
DAG of ``--workers`` pods that request one CPU (like compiled workers) and burn ``--seconds``
of CPU (a loop calibrated on this machine first). It runs the batch twice under fresh homes:
with the default capacity (this machine's cores) and with capacity unlimited
(``DROVER_LOCAL_CPUS=100000``). For each it prints the wall time until every workflow is done,
the peak 1-minute load average and the peak number of runnable tasks (``procs_running``), and
the median and p95 latency of ``LocalBackend.get()`` called every 50 ms meanwhile.

Baseline: the work's lower bound (CPU seconds / cores) and ``get()`` on the idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backends.local import LocalBackend
from engine.backends.local.machine import CPUS_ENV, machine_cpus

ROOT = Path(__file__).resolve().parents[1]
_BURN = "n = 0\nfor _ in range({loops}): n += 1\n"


def python() -> str:
    """The interpreter pods run (the host's: images are ignored locally)."""
    return "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"


def calibrate(seconds: float) -> int:
    """Loop count that keeps one core busy for ``seconds`` in a pod's interpreter."""
    probe = 5_000_000
    before = os.times()
    subprocess.run([python(), "-c", _BURN.format(loops=probe)], check=True)
    after = os.times()
    used = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return int(probe * seconds / max(used, 0.01))


def manifest(workers: int, loops: int) -> dict[str, Any]:
    return {
        "metadata": {"generateName": "full-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [{"name": f"w{i}", "template": "burn"} for i in range(workers)]
                    },
                },
                {
                    "name": "burn",
                    "container": {
                        "image": "python",
                        "command": [python(), "-c", _BURN.format(loops=loops)],
                        "resources": {"requests": {"cpu": "1"}},
                    },
                },
            ],
        },
    }


def procs_running() -> int:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("procs_running"):
            return int(line.split()[1])
    return 0


def settle(limit: float, timeout: float = 90.0) -> None:
    """Let the 1-minute load average fall to ``limit`` (so one batch does not raise the next
    one's figure)."""
    deadline = time.time() + timeout
    while os.getloadavg()[0] > limit and time.time() < deadline:
        time.sleep(1)


def get_latencies(backend: LocalBackend, names: list[str], stop: threading.Event) -> list[float]:
    latencies: list[float] = []
    index = 0
    while not stop.is_set():
        started = time.perf_counter()
        backend.get(names[index % len(names)])
        latencies.append(time.perf_counter() - started)
        index += 1
        time.sleep(0.05)
    return latencies


def cli_get(home: Path, name: str) -> float:
    """Seconds of a ``drover get``-like call: a new interpreter imports the backend and reads
    a workflow. It needs CPU (about 0.2 s), so it shows what a loaded machine does to a
    request."""
    code = (
        "from pathlib import Path; from engine.backends.local import LocalBackend; "
        f"LocalBackend(Path({str(home)!r})).get({name!r})"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - started


def cli_latencies(home: Path, names: list[str], stop: threading.Event) -> list[float]:
    latencies: list[float] = []
    while not stop.is_set():
        latencies.append(cli_get(home, names[len(latencies) % len(names)]))
        stop.wait(0.5)
    return latencies


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def batch(args: argparse.Namespace, loops: int, cpus: str | None) -> dict[str, float]:
    previous = os.environ.get(CPUS_ENV)
    if cpus is None:
        os.environ.pop(CPUS_ENV, None)
    else:
        os.environ[CPUS_ENV] = cpus
    try:
        with tempfile.TemporaryDirectory(prefix="drover-bench-") as tmp:
            backend = LocalBackend(Path(tmp), runtime=args.runtime)
            started = time.perf_counter()
            names = [backend.submit(manifest(args.workers, loops)) for _ in range(args.workflows)]
            stop = threading.Event()
            latencies: list[float] = []
            cli: list[float] = []
            samplers = [
                threading.Thread(
                    target=lambda: latencies.extend(get_latencies(backend, names, stop))
                ),
                threading.Thread(target=lambda: cli.extend(cli_latencies(Path(tmp), names, stop))),
            ]
            for sampler in samplers:
                sampler.start()
            peak_load = peak_running = 0.0
            pending = set(names)
            while pending:
                peak_load = max(peak_load, os.getloadavg()[0])
                peak_running = max(peak_running, procs_running())
                for name in list(pending):
                    phase = backend.get(name)["status"].get("phase")
                    if phase in ("Succeeded", "Failed", "Error"):
                        assert phase == "Succeeded", backend.get(name)["status"].get("message")
                        pending.discard(name)
                time.sleep(0.25)
            wall = time.perf_counter() - started
            stop.set()
            for sampler in samplers:
                sampler.join()
    finally:
        if previous is None:
            os.environ.pop(CPUS_ENV, None)
        else:
            os.environ[CPUS_ENV] = previous
    return {
        "wall": wall,
        "load": peak_load,
        "running": peak_running,
        "get_p50": statistics.median(latencies) * 1000,
        "get_p95": p95(latencies) * 1000,
        "cli_p50": statistics.median(cli),
        "cli_p95": p95(cli),
    }


def idle_latencies(args: argparse.Namespace) -> tuple[float, float]:
    """p95 of ``get()`` (ms) and of the ``drover get``-like call (s) before the batches."""
    with tempfile.TemporaryDirectory(prefix="drover-bench-") as tmp:
        backend = LocalBackend(Path(tmp), runtime=args.runtime)
        workflow = manifest(1, 1)
        workflow["spec"]["templates"][1]["container"].pop("resources")
        name = str(backend.run(workflow)["metadata"]["name"])
        latencies = []
        for _ in range(100):
            started = time.perf_counter()
            backend.get(name)
            latencies.append(time.perf_counter() - started)
        cli = [cli_get(Path(tmp), name) for _ in range(5)]
    return p95(latencies) * 1000, p95(cli)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--runtime", default=None, help="sandbox or process (default: auto)")
    args = parser.parse_args()
    cores = machine_cpus() / 1000
    background = os.getloadavg()[0]
    loops = calibrate(args.seconds)
    work = args.workflows * args.workers * args.seconds
    print(
        f"{args.workflows} workflows x {args.workers} pods of {args.seconds:g} s CPU "
        f"({work:g} CPU s) on {cores:g} cores; load average {background:.1f} before (other work)"
    )
    get_idle, cli_idle = idle_latencies(args)
    print(
        f"baseline: lower bound {work / cores:.1f} s wall; idle get() p95 {get_idle:.2f} ms, "
        f"idle 'drover get' p95 {cli_idle:.2f} s"
    )
    print(f"{'capacity':<14} {'wall s':>7} {'peak load1':>10} {'peak runnable':>13} "
          f"{'get p50/p95 ms':>15} {'drover get p50/p95 s':>21}")  # fmt: skip
    for label, cpus in ((f"cores ({cores:g})", None), ("unlimited", "100000")):
        settle(limit=background + 0.5)
        f = batch(args, loops, cpus)
        print(
            f"{label:<14} {f['wall']:>7.1f} {f['load']:>10.1f} {f['running']:>13.0f} "
            f"{f['get_p50']:>7.2f}/{f['get_p95']:<7.2f} {f['cli_p50']:>12.2f}/{f['cli_p95']:<8.2f}"
        )


if __name__ == "__main__":
    main()
