"""The live pytest plugin agrees with pytest's own JUnit report, test by test, and the agent
maps its node ids back to scenario ids (also from a rootdir above or below the workspace)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from agent_plans import AGENT_DIR
from drover_agent.leasing import MAX_LEASE, BatchCost, lease_size
from drover_agent.live_feed import live_runner_env, scenario_index
from drover_agent.pytest_protocol import PLUGIN_ARGS
from drover_agent.results import Status
from drover_agent.runners.base import Outcome
from drover_agent.runners.pytest_session import JunitCase, match_testcases, plugin_env

EVERY_KIND = textwrap.dedent(
    """
    import pytest

    @pytest.fixture
    def broken_setup():
        raise RuntimeError("setup broke")

    @pytest.fixture
    def broken_teardown():
        yield
        raise RuntimeError("teardown broke")

    def test_passes():
        pass

    def test_fails():
        assert 1 == 2, "one is not two"

    def test_setup_error(broken_setup):
        pass

    def test_teardown_error(broken_teardown):
        pass

    def test_fails_and_teardown_error(broken_teardown):
        assert False

    @pytest.mark.skip(reason="not today")
    def test_skipped():
        pass

    def test_skips_inside():
        pytest.skip("decided at run time")

    @pytest.mark.xfail(reason="known bug")
    def test_xfail():
        assert False

    @pytest.mark.xfail(strict=True)
    def test_xpass_strict():
        pass

    @pytest.mark.parametrize("n", [1, 2])
    def test_param(n):
        assert n == 1

    class TestGroup:
        def test_method(self):
            pass
    """
)


def test_plugin_verdicts_equal_junit(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_kinds.py").write_text(EVERY_KIND)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    lines, junit = tmp_path / "live.jsonl", tmp_path / "junit.xml"
    env = live_runner_env(
        plugin_env({**os.environ, "PYTHONPATH": "", "DROVER_SCENARIO_ATTEMPT": "2"}), lines
    )
    assert str(AGENT_DIR) in env["PYTHONPATH"].split(os.pathsep)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            *PLUGIN_ARGS,
            "-o",
            "junit_family=xunit1",
            f"--junitxml={junit}",
            "tests",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    live = [json.loads(line) for line in lines.read_text().splitlines()]
    cases = _junit_testcases(junit.read_text())
    # What the agent makes of the JUnit report (a teardown error after a failure adds a second
    # testcase; the first one counts), for the same node ids.
    from_junit = match_testcases([line["nodeid"] for line in live], cases)
    assert {line["nodeid"]: line["status"] for line in live} == {
        node: outcome.status for node, outcome in from_junit.items()
    }
    assert len(live) == len({case.key for case in cases}) == 12
    by_node = {line["nodeid"].split("::", 1)[1]: line for line in live}
    assert by_node["test_fails"]["error"].startswith("AssertionError: one is not two")
    assert by_node["test_skipped"]["error"] == "not today"
    assert by_node["test_setup_error"]["status"] == "error"
    assert by_node["test_passes"]["error"] is None
    assert {line["attempt"] for line in live} == {2}


def test_plugin_is_silent_without_a_target(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *PLUGIN_ARGS],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(AGENT_DIR), "DROVER_LIVE_RESULTS": ""},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["test_one.py"]


def test_node_ids_map_back_to_scenarios_across_rootdirs() -> None:
    index = scenario_index(
        ["proj/tests/a.py::test_x", "tests/b.py::test_y[1/2]", "x/c.py::t", "y/c.py::t"]
    )
    assert index["proj/tests/a.py::test_x"] == "proj/tests/a.py::test_x"
    assert index["tests/a.py::test_x"] == "proj/tests/a.py::test_x"  # rootdir below
    assert index["b.py::test_y[1/2]"] == "tests/b.py::test_y[1/2]"  # '/' in params kept
    assert "c.py::t" not in index  # ambiguous: two scenarios end like this
    assert "tests/b.py" not in index  # a file is not one test


def test_lease_sizes_shrink_towards_one() -> None:
    sizes = [lease_size(1000, 10, taken) for taken in range(0, 101, 10)]
    assert sizes[0] == 50 and sizes[-1] == 1
    assert sizes == sorted(sizes, reverse=True)
    assert lease_size(100_000, 1, 0) == MAX_LEASE
    assert lease_size(3, 0, 0) == 2


def test_short_scenarios_lease_in_batches_that_amortize_runner_start_up() -> None:
    cost = BatchCost()
    cost.record(2.0, [0.05] * 4)  # 1.8 s of start-up for 0.2 s of tests
    cost.record(3.0, [0.05] * 2)  # a slower start; the smallest overhead counts
    assert lease_size(200, 4, 150, cost) == 50  # an even share of the group, no more
    slow = BatchCost()
    slow.record(21.0, [10.0, 10.0])  # start-up is small next to the scenarios
    assert lease_size(200, 4, 40, slow) == lease_size(200, 4, 40) == 5


def _junit_testcases(xml_text: str) -> list[JunitCase]:
    """pytest's own JUnit report, each testcase keyed and judged as the agent keys outcomes."""
    verdicts: dict[str, Status] = {"failure": "failed", "error": "error", "skipped": "skipped"}
    cases = []
    for case in ElementTree.fromstring(xml_text).iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        tag = next((t for t in verdicts if case.find(t) is not None), None)
        key = f"{classname}.{name}" if classname else name
        cases.append(JunitCase(key, Outcome(verdicts[tag] if tag else "passed")))
    return cases
