"""``drover run`` of 60,000 short generated tests over 2 workers: every id exactly once.

Issue 11's correctness target for large suites (the speed figures are bench/real_suites.py's).
Runs above ~13,100 scenarios once never ended (a bulk insert past the driver's 65,535
parameters), and a run's statements that are harmless at 1,000 results can go quadratic at
60,000 (run.finished's flaky-scenario query did). The spec lists the ids itself: discovering them
would only add a third collection of the same 60,000 tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

FILES = 6
CASES = 10_000


def generated_project(root: Path) -> list[str]:
    """Six files of one parametrized test each; their ids in file order."""
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    ids = []
    for number in range(FILES):
        (root / f"test_gen_{number}.py").write_text(
            "import pytest\n\n\n"
            f"@pytest.mark.parametrize('n', range({CASES}))\n"
            "def test_case(n):\n"
            "    assert n >= 0\n"
        )
        ids += [f"test_gen_{number}.py::test_case[{n}]" for n in range(CASES)]
    return ids


def test_sixty_thousand_tests_over_two_workers_run_each_id_exactly_once(tmp_path: Path) -> None:
    ids = generated_project(tmp_path / "project")
    spec = {
        "name": "sixty-thousand",
        "project": {"name": "sixty-thousand", "path": str(tmp_path / "project"),
                    "runner": {"kind": "pytest"}},
        "flows": [{"name": "main", "groups": [
            {"name": "all", "threads": 2, "scenarios": [{"id": i} for i in ids]},
        ]}],
    }  # fmt: skip
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "DROVER_HOME": str(tmp_path / "home")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # this environment's plugins cost each process
    env.pop("PYTEST_ADDOPTS", None)
    results = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(tmp_path / "spec.json"),
         "--results", str(results)],
        capture_output=True, text=True, env=env, check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(results.read_text())

    seen = Counter(r["id"] for r in report["results"])
    assert len(seen) == len(ids) == FILES * CASES
    assert set(seen) == set(ids)
    assert [i for i, count in seen.items() if count != 1] == []
    assert Counter(r["status"] for r in report["results"]) == {"passed": FILES * CASES}
    assert {r["shard"] for r in report["results"]} == {0, 1}
    assert report["counts"]["passed"] == FILES * CASES
