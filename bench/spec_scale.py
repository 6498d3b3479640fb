"""A 100,000-scenario spec through the CLI: 50 flows x 10 groups x 20 threads, scenarios listed.

Run: ``python bench/spec_scale.py [--repeats 3] [--keep DIR]``

Writes the spec twice into a temporary directory, as JSON and as the block YAML that
``drover discover`` writes for a pytest suite (each scenario with id, name and duration; a
node id is its own location, which discovery leaves out), then times
``drover validate SPEC`` and ``drover compile SPEC -o FILE`` as real subprocesses (median of
``--repeats`` runs) with their peak memory (max RSS of the child, from ``wait4``; the specs are
written by a child too, so this process stays small and its own peak does not leak into the
figures). Baselines measured in the same run: ``python -c pass``; in this process, reading the
file alone (``json.loads``, or ``yaml.load`` with PyYAML's stock C loader, both with the
collector off as the CLI reads), and the compile step alone (plan + Workflow + ConfigMaps of
the validated execution).
Targets: validate under 1 s, compile under 1.5 s, max RSS under 1 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLOWS, GROUPS, THREADS, SCENARIOS_PER_GROUP = 50, 10, 20, 200
ROOT = Path(__file__).resolve().parents[1]
DROVER = [sys.executable, "-m", "engine.cli"]


def spec_document() -> dict[str, Any]:
    """The execution: every group lists its 200 scenarios."""
    rng = random.Random(2026)
    flows = []
    for f in range(FLOWS):
        groups = []
        for g in range(GROUPS):
            scenarios = []
            for s in range(SCENARIOS_PER_GROUP):
                file = f"tests/f{f}/g{g}/test_{s % 20}.py"
                scenarios.append(
                    {
                        "id": f"{file}::test_case_{s}",
                        "name": f"test_case_{s}",
                        "duration": round(rng.lognormvariate(3, 1), 2),
                    }
                )
            groups.append({"name": f"group-{g}", "threads": THREADS, "scenarios": scenarios})
        flows.append({"name": f"flow-{f}", "groups": groups})
    return {
        "kind": "Execution",
        "name": "scale",
        "project": {"name": "scale", "repo": "https://example.com/scale.git"},
        "flows": flows,
    }


def write_specs(directory: Path) -> None:
    import yaml

    document = spec_document()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(document, Dumper=dumper, sort_keys=False, allow_unicode=True, width=120)
    (directory / "execution.yaml").write_text(text, encoding="utf-8")
    (directory / "execution.json").write_text(json.dumps(document), encoding="utf-8")


def run_child(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and max RSS (bytes) of one subprocess; it must exit 0."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}: {stderr}")
    return wall, usage.ru_maxrss * 1024  # KiB on Linux


def median_child(argv: list[str], repeats: int) -> tuple[float, int]:
    runs = [run_child(argv) for _ in range(repeats)]
    return statistics.median(w for w, _ in runs), max(r for _, r in runs)


def median_call(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="Time drover validate/compile on 100k scenarios.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the specs here and keep them")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.write:
        write_specs(args.write)
        return

    directory = args.keep or Path(tempfile.mkdtemp(prefix="drover-scale-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        run_child([sys.executable, __file__, "--write", str(directory)])
        specs = {"YAML": directory / "execution.yaml", "JSON": directory / "execution.json"}
        out = directory / "compiled.yaml"
        count = FLOWS * GROUPS * SCENARIOS_PER_GROUP
        sizes = ", ".join(f"{k} {p.stat().st_size / 1e6:.1f} MB" for k, p in specs.items())
        print(
            f"spec: {FLOWS} flows x {GROUPS} groups x {THREADS} threads, {count:,} scenarios "
            f"({sizes}); median of {args.repeats} runs, max RSS of the child"
        )
        print(f"{'':36}{'wall time':>11}{'max RSS':>11}")
        pass_s, pass_rss = median_child([sys.executable, "-c", "pass"], args.repeats)
        print(f"{'python -c pass':36}{pass_s:>9.3f} s{pass_rss / 1e6:>8.0f} MB")
        measured: dict[tuple[str, str], tuple[float, int]] = {}
        for kind, spec in specs.items():
            for verb, extra in (("validate", []), ("compile", ["-o", str(out)])):
                wall, rss = median_child([*DROVER, verb, str(spec), *extra], args.repeats)
                measured[verb, kind] = (wall, rss)
                label = f"drover {verb} ({kind}{', -o FILE' if extra else ''})"
                print(f"{label:36}{wall:>9.3f} s{rss / 1e6:>8.0f} MB")

        # In-process baselines last: their memory would otherwise count in the children's RSS.
        import yaml

        sys.path.insert(0, str(ROOT))
        from engine.compiler import compile_plan
        from engine.loading import load_execution
        from engine.planning import plan_execution

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        yaml_text = specs["YAML"].read_text(encoding="utf-8")
        json_text = specs["JSON"].read_text(encoding="utf-8")
        gc.disable()  # as the CLI reads a spec: no collections walking the half-built document
        reads = {
            "YAML": median_call(lambda: yaml.load(yaml_text, Loader=loader), args.repeats),
            "JSON": median_call(lambda: json.loads(json_text), args.repeats),
        }
        gc.enable()
        execution = load_execution(specs["JSON"])
        gc.collect()
        gc.freeze()  # the step's own time, not collections walking this process's leftovers
        step_s = median_call(
            lambda: compile_plan(plan_execution(execution)).documents(), args.repeats
        )
        name = f"yaml.load, {loader.__name__} (in process)"
        print(f"{name:36}{reads['YAML']:>9.3f} s")
        print(f"{'json.loads (in process)':36}{reads['JSON']:>9.3f} s")
        print(f"{'plan + compile step (in process)':36}{step_s:>9.3f} s")
        for kind in specs:
            validate_s, validate_rss = measured["validate", kind]
            compile_s, compile_rss = measured["compile", kind]
            met = validate_s < 1 and compile_s < 1.5 and max(validate_rss, compile_rss) < 1e9
            verdict = "met" if met else "NOT met"
            print(
                f"{kind}: validate / reading the file alone {validate_s / reads[kind]:.2f}, "
                f"compile (CLI) / compile step {compile_s / step_s:.2f}; "
                f"target (validate < 1 s, compile < 1.5 s, RSS < 1 GB) {verdict}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
