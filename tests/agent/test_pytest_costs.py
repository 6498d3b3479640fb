"""What each test cost its worker's session (``cost`` in results): the time pytest spent on it
beyond its own phases, and its share of importing and collecting its file; what history keeps
for plans (``api.runs.history``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from agent_plans import RunAgent
from test_pytest_selection import run_shard, write_project

from engine.discovery import DiscoveryRunner, discover

SLOW_IMPORT = textwrap.dedent(
    """
    import time

    import pytest

    time.sleep(0.4)  # a heavy import: no test's duration holds it


    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_cheap(n):
        pass


    class TestMore:
        def test_cheap_too(self):
            pass
    """
)

QUICK = textwrap.dedent(
    """
    import time


    def test_sleeps():
        time.sleep(0.2)


    def test_nothing():
        pass
    """
)


def test_costs_hold_the_files_collection_and_the_tests_own_time(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = write_project(
        tmp_path / "project",
        {"tests/test_slow_import.py": SLOW_IMPORT, "tests/test_quick.py": QUICK},
    )
    ids = [s.id for s in discover(DiscoveryRunner.PYTEST, project)]
    done, results = run_shard(run_agent, tmp_path, project, ids)
    assert done.returncode == 0, done.stdout

    slow = [r for i, r in results.items() if "test_slow_import" in i]
    quick = {i.rpartition("::")[2]: r for i, r in results.items() if "test_quick" in i}
    assert len(slow) == 4 and len(quick) == 2
    assert all(r["cost"] >= r["duration"] for r in results.values())
    # The import's 0.4 s is spread over its file's four tests; their own phases take nothing.
    assert sum(r["duration"] for r in slow) < 0.1
    assert 0.4 <= sum(r["cost"] for r in slow) < 0.4 + 0.3
    assert all(r["cost"] >= 0.1 for r in slow)
    assert 0.2 <= quick["test_sleeps"]["cost"] < 0.2 + 0.15
    assert quick["test_nothing"]["cost"] < 0.1


def test_a_scenario_naming_a_whole_file_costs_what_its_tests_cost(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = write_project(tmp_path / "project", {"tests/test_slow_import.py": SLOW_IMPORT})
    done, results = run_shard(run_agent, tmp_path, project, ["tests/test_slow_import.py"])
    assert done.returncode == 0, done.stdout

    whole = results["tests/test_slow_import.py"]
    assert whole["status"] == "passed"
    assert 0.4 <= whole["cost"] < 0.4 + 0.3
