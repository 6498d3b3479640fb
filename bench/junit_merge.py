"""Merge a large run's worker results into one JUnit XML, streamed.

    python bench/junit_merge.py [--scenarios 10000] [--workers 100] [--groups 10]

Writes ``--workers`` results files (as ``drover-agent run`` does; one scenario in 20 failed
once and passed on its rerun, one in 50 failed every time, with a 2 KB error), then times
``drover_agent.junit``: reading the files (``cases_from_shard_reports``) and writing the run's
JUnit XML (``write_junit``); then, in a second pass (tracemalloc slows allocations), the peak
of Python allocations while writing.
Baseline, in the same run: the same XML built as one ElementTree in memory and serialised.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent-image"))

from drover_agent.junit import Case, cases_from_shard_reports, write_junit

ERROR = "AssertionError: expected the total to be 9.00\n" + "  at frame\n" * 180


def shard_documents(scenarios: int, workers: int, groups: int) -> list[dict[str, Any]]:
    documents = []
    for worker in range(workers):
        results, retried = [], []
        for number in range(worker, scenarios, workers):
            scenario = f"tests/area_{number % 97}/test_module.py::test_case_{number}"
            entry = {"id": scenario, "duration": 0.5, "error": None, "artifacts": []}
            if number % 50 == 0:
                results.append({**entry, "status": "failed", "attempt": 2, "error": ERROR})
                retried.append({**entry, "status": "failed", "attempt": 1, "error": ERROR})
            elif number % 20 == 0:
                results.append({**entry, "status": "passed", "attempt": 2})
                retried.append({**entry, "status": "failed", "attempt": 1, "error": ERROR})
            else:
                results.append({**entry, "status": "passed", "attempt": 1})
        documents.append(
            {"group": f"flow.group-{worker % groups}", "results": results, "retried": retried}
        )
    return documents


def element_tree_baseline(cases: list[Case], traced: bool) -> tuple[float, int]:
    """The whole document as one in-memory tree, then serialised."""
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    root = ElementTree.Element("testsuites", name="bench")
    suites: dict[str, ElementTree.Element] = {}
    for case in cases:
        suite = suites.get(case.group)
        if suite is None:
            suite = suites[case.group] = ElementTree.SubElement(root, "testsuite", name=case.group)
        element = ElementTree.SubElement(
            suite, "testcase", name=case.id, classname=case.group, time=f"{case.final.duration}"
        )
        for attempt in case.earlier:
            flaky = ElementTree.SubElement(element, "flakyFailure", type=attempt.status)
            ElementTree.SubElement(flaky, "stackTrace").text = attempt.error
        if case.final.status == "failed":
            ElementTree.SubElement(element, "failure", type="failed").text = case.final.error
    ElementTree.ElementTree(root).write(io.BytesIO(), encoding="utf-8")
    seconds = time.perf_counter() - started
    if not traced:
        return seconds, 0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--groups", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for number, document in enumerate(
            shard_documents(args.scenarios, args.workers, args.groups)
        ):
            (folder / f"results-{number}.json").write_text(json.dumps(document))

        started = time.perf_counter()
        documents = [json.loads(p.read_text()) for p in sorted(folder.glob("results-*.json"))]
        cases = cases_from_shard_reports(documents)
        read_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with (folder / "junit.xml").open("w", encoding="utf-8") as out:
            counts = write_junit(out, cases, name="bench")
        write_seconds = time.perf_counter() - started
        size = (folder / "junit.xml").stat().st_size
        # Memory in a second pass: tracemalloc slows every allocation down.
        tracemalloc.start()
        with (folder / "junit-2.xml").open("w", encoding="utf-8") as out:
            write_junit(out, cases, name="bench")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        base_seconds = element_tree_baseline(cases, traced=False)[0]
        base_peak = element_tree_baseline(cases, traced=True)[1]

    print(
        f"{counts.tests} scenarios in {args.workers} results files, {args.groups} groups: "
        f"{counts.failures} failed, {counts.flaky} flaky; JUnit XML {size / 1e6:.1f} MB"
    )
    print(f"read results files:           {read_seconds:.3f} s")
    print(f"write JUnit XML (streamed):   {write_seconds:.3f} s, peak {peak / 1e6:.2f} MB")
    print(f"merge total:                  {read_seconds + write_seconds:.3f} s")
    print(f"baseline, ElementTree in RAM: {base_seconds:.3f} s, peak {base_peak / 1e6:.2f} MB")
    print(
        f"ratio: {base_seconds / write_seconds:.2f}x the baseline's speed, "
        f"{base_peak / max(peak, 1):.1f}x less memory"
    )


if __name__ == "__main__":
    main()
