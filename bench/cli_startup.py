"""CLI start-up: ``drover --help``, and ``drover validate``/``plan`` of the shop example.

Run: ``python bench/cli_startup.py [--runs 15]``

Each command runs as a real subprocess (the ``drover`` console script beside this Python, or
``python -m engine.cli``), ``--runs`` times, interleaved with the baseline ``python -c pass``;
it prints the median wall and CPU time of each, the fastest wall time (the least disturbed run
on a shared machine), the ratio of medians to the baseline, and which of Hera, the Kubernetes
client, SQLAlchemy and FastAPI the command's process imported.

The commands run in a home of their own where ``drover run`` ran the example once first, as a
user plans after a run: so ``plan`` has earlier runs to read, and reads them through the local
service that run left (``plan`` itself starts none); the last row, ``DROVER_LOCAL_SERVICE=off``,
reads them over its own connection to the Postgres that service holds (without a running
Postgres it would start one, ~0.15 s more). The home is removed after,
and its service and Postgres stop with it.
Target: each command under 0.3 s wall.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOP = "examples/shop/execution.yaml"
HEAVY = ("hera", "kubernetes", "sqlalchemy", "fastapi")
TARGETED = ("drover --help", "drover validate SHOP", "drover plan SHOP")


def drover() -> list[str]:
    script = Path(sys.executable).with_name("drover")
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli"]


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run; it must exit 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def heavy_modules(args: list[str], env: dict[str, str]) -> list[str]:
    """The heavy packages a command imports, from its own process."""
    code = (
        "import sys\n"
        f"sys.argv = ['drover', *{args!r}]\n"
        "from engine.cli import app\n"
        "try:\n"
        "    app()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split("\n")[-2].split()


def main() -> None:
    parser = argparse.ArgumentParser(description="Time drover's start-up against python -c pass.")
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="drover-startup-"))
    env = {**os.environ, "DROVER_HOME": str(home)}
    env.pop("DROVER_LOCAL_SERVICE", None)
    try:
        # A first run: its history for plan, and the local service plan reads it through.
        subprocess.run(
            [*drover(), "run", SHOP], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False
        )
        medians, fastest, heavy = measure(options.runs, env)
    finally:
        subprocess.run([*drover(), "db", "stop"], cwd=ROOT, env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)  # a service whose home is gone exits
    base_wall = medians["python -c pass"][0]
    print(f"median of {options.runs} runs each, {os.cpu_count()} CPUs, shop = {SHOP}")
    print(f"{'':36}{'wall':>9}{'CPU':>9}{'fastest':>9}{'x baseline':>12}  heavy modules imported")
    for name, (wall, cpu) in medians.items():
        print(
            f"{name:36}{wall:>7.3f} s{cpu:>7.3f} s{fastest[name]:>7.3f} s"
            f"{wall / base_wall:>11.1f}x  {heavy.get(name) or '-'}"
        )
    worst = max(wall for name, (wall, _) in medians.items() if name in TARGETED)
    verdict = "met" if worst < 0.3 else "NOT met"
    print(f"target (every command but the last < 0.3 s wall): {verdict}")


def measure(
    runs: int, env: dict[str, str]
) -> tuple[dict[str, tuple[float, float]], dict[str, float], dict[str, str]]:
    """Median (wall, CPU) and fastest wall of each command, and the heavy modules it imported."""
    off = {**env, "DROVER_LOCAL_SERVICE": "off"}
    commands = {
        "drover --help": (["--help"], env),
        "drover validate SHOP": (["validate", SHOP], env),
        "drover plan SHOP": (["plan", SHOP], env),
        "drover plan SHOP, no local service": (["plan", SHOP], off),
    }
    baseline = [sys.executable, "-c", "pass"]
    samples: dict[str, list[tuple[float, float]]] = {"python -c pass": []}
    samples.update({name: [] for name in commands})
    timed(baseline)
    for args, command_env in commands.values():
        timed([*drover(), *args], command_env)  # warm the page cache and .pyc files
    for _ in range(runs):
        samples["python -c pass"].append(timed(baseline))
        for name, (args, command_env) in commands.items():
            samples[name].append(timed([*drover(), *args], command_env))
    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in samples.items()
    }
    fastest = {name: min(w for w, _ in runs) for name, runs in samples.items()}
    heavy = {name: " ".join(heavy_modules(*command)) for name, command in commands.items()}
    return medians, fastest, heavy


if __name__ == "__main__":
    main()
