"""``drover-agent run`` through real pytest on the example project."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from agent_plans import AGENT_DIR, SHOP, RunAgent, read_results, write_plan
from drover_agent.pytest_protocol import LIVE_RESULTS_ENV

from engine.discovery import DiscoveryRunner, discover

FAILING = "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros"
VERBOSE_LINE = re.compile(r"^(?P<id>tests/\S.*?) (?P<status>PASSED|FAILED|SKIPPED|ERROR)\b")
PLAIN_STATUS = {"PASSED": "passed", "FAILED": "failed", "SKIPPED": "skipped", "ERROR": "error"}


def plain_pytest_statuses() -> dict[str, str]:
    """What plain pytest reports for the fast tests of the example project."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-m", "not slow"],
        cwd=SHOP,
        capture_output=True,
        text=True,
        check=False,
    )
    found = [VERBOSE_LINE.match(line) for line in done.stdout.splitlines()]
    return {m["id"]: PLAIN_STATUS[m["status"]] for m in found if m}


def test_results_equal_what_plain_pytest_reports(tmp_path: Path, run_agent: RunAgent) -> None:
    fast = [s.id for s in discover(DiscoveryRunner.PYTEST, SHOP) if "slow" not in s.tags]
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": fast[::2], "1": fast[1::2]})
    statuses: dict[str, str] = {}
    results_by_id = {}
    for shard in ("0", "1"):
        results = tmp_path / f"results-{shard}.json"
        done = run_agent(
            "run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--group", "main.all",
            "--shard", shard, "--results", str(results), "--report-dir", str(tmp_path / "reports"),
        )  # fmt: skip
        document = read_results(results)
        assert (document["group"], document["shard"], document["runner"]) == (
            "main.all",
            int(shard),
            "pytest",
        )
        assert done.returncode == (1 if FAILING in fast[int(shard) :: 2] else 0), done.stdout
        assert done.stdout.count("test session starts") == 1  # one pytest process per shard
        for result in document["results"]:
            statuses[result["id"]] = result["status"]
            results_by_id[result["id"]] = result

    assert statuses == plain_pytest_statuses()
    assert len(statuses) == 21
    failing = results_by_id[FAILING]
    assert failing["status"] == "failed"
    assert failing["error"].startswith("AssertionError: orders of 15.00 or more should ship free")
    skipped = results_by_id["tests/cart/test_cart.py::TestRemoval::test_remove_many"]
    assert (skipped["status"], skipped["error"]) == ("skipped", "bulk removal is not built yet")
    assert (
        results_by_id["tests/cart/test_discounts.py::test_discount_codes[half price]"]["status"]
        == "passed"
    )


def test_retries_rerun_only_the_failed_scenarios(tmp_path: Path, run_agent: RunAgent) -> None:
    passing = "tests/cart/test_discounts.py::test_discount_codes[half price]"
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": [passing, FAILING]}, retries=2)
    results = tmp_path / "results.json"
    reports = tmp_path / "reports"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--group", "main.all",
        "--shard", "0", "--results", str(results), "--report-dir", str(reports), "--attempt", "2",
    )  # fmt: skip
    assert done.returncode == 1
    document = read_results(results)
    assert document["attempt"] == 2
    # pod retry 2: its scenario attempts are numbered after every earlier pod's (2 * 100 + k)
    final = {r["id"]: (r["status"], r["attempt"]) for r in document["results"]}
    assert final == {passing: ("passed", 201), FAILING: ("failed", 203)}
    assert [(r["id"], r["attempt"]) for r in document["retried"]] == [
        (FAILING, 201),
        (FAILING, 202),
    ]
    assert document["counts"] == {"passed": 1, "failed": 1, "skipped": 0, "error": 0}
    # The reruns ran only the failing test (each session's record of what it ran).
    (rerun,) = reports.glob("pytest-progress-a202-*.jsonl")
    ran = [json.loads(line).get("nodeid") for line in rerun.read_text().splitlines()]
    assert [nodeid for nodeid in ran if nodeid] == [FAILING]


def test_stale_and_coarse_ids(tmp_path: Path, run_agent: RunAgent) -> None:
    stale = "tests/catalog/test_catalog.py::test_was_deleted"
    whole_file = "tests/cart/test_discounts.py"
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": [stale, whole_file]})
    results = tmp_path / "results.json"
    run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--group", "main.all",
        "--shard", "0", "--results", str(results),
    )  # fmt: skip
    final = {r["id"]: r for r in read_results(results)["results"]}
    assert (final[stale]["status"], final[stale]["error"]) == ("error", "pytest found no such test")
    assert final[whole_file]["status"] == "passed"  # the six tests of the file, combined


def test_a_runner_that_cannot_start_still_writes_results(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    ids = ["tests/cart/test_cart.py::test_empty_cart_totals_zero", "tests/x.py::test_y"]
    plan = write_plan(
        tmp_path / "plan",
        runner={"kind": "command", "command": ["/nonexistent/runner", "{scenarios}"]},
        workers={"0": ids},
    )
    results = tmp_path / "out" / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--group", "main.all",
        "--shard", "0", "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 1
    document = read_results(results)
    assert [r["id"] for r in document["results"]] == ids
    assert all(r["status"] == "error" for r in document["results"])
    assert "cannot start '/nonexistent/runner'" in document["results"][0]["error"]
    assert document["finished_at"] is not None


def test_pytest_crash_is_recorded_for_every_scenario(tmp_path: Path, run_agent: RunAgent) -> None:
    plan = write_plan(
        tmp_path / "plan",
        runner={"args": ["--no-such-pytest-option"]},
        workers={"0": ["tests/cart/test_cart.py::test_empty_cart_totals_zero"]},
    )
    results = tmp_path / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--group", "main.all",
        "--shard", "0", "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 1
    (result,) = read_results(results)["results"]
    assert result["status"] == "error"
    assert "pytest exited with code 4" in result["error"]
    assert "--no-such-pytest-option" in result["error"]


def test_a_test_that_kills_pytest_is_an_error_and_the_rest_still_run(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """As pytest-xdist replaces a worker that crashed: what ran keeps its outcome, the test
    that was running is an error naming the signal or exit code, the tests never started run
    in a new session, all as the same attempt (no retry spent)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_crash.py").write_text(
        "import os\nimport signal\n\n\n"
        "def test_before():\n    pass\n\n\n"
        "def test_segfault():\n    os.kill(os.getpid(), signal.SIGSEGV)\n\n\n"
        "def test_between():\n    assert 1 == 2\n\n\n"
        "def test_exits():\n    os._exit(3)\n\n\n"
        "def test_after():\n    pass\n"
    )
    names = ["test_before", "test_segfault", "test_between", "test_exits", "test_after"]
    ids = [f"test_crash.py::{n}" for n in names]
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": ids}, path=str(project))
    results = tmp_path / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(project), "--group", "main.all",
        "--shard", "0", "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 1
    final = {r["id"].partition("::")[2]: r for r in read_results(results)["results"]}
    assert {n: final[n]["status"] for n in names} == {
        "test_before": "passed",
        "test_segfault": "error",
        "test_between": "failed",
        "test_exits": "error",
        "test_after": "passed",
    }
    assert "killed by SIGSEGV" in final["test_segfault"]["error"]
    assert "exited with code 3" in final["test_exits"]["error"]
    assert {r["attempt"] for r in final.values()} == {1}
    assert done.stdout.count("test session starts") == 3


def test_a_project_running_its_tests_under_xdist_reports_each_test_once(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """pytest-xdist's workers load Drover's plugin too; only the controller, which hears of
    every test they run, records outcomes (a test reported twice would count its time twice)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p xdist -n 2\n")
    (project / "test_spread.py").write_text(
        "import time\n\nimport pytest\n\n\n"
        "@pytest.mark.parametrize('n', range(6))\n"
        "def test_many(n):\n    assert n != 4\n\n\n"
        "def test_slow():\n    time.sleep(0.3)\n\n\n"
        "@pytest.mark.skip(reason='not here')\n"
        "def test_skipped():\n    pass\n"
    )
    ids = [f"test_spread.py::test_many[{n}]" for n in range(6)]
    ids += ["test_spread.py::test_slow", "test_spread.py::test_skipped"]
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": ids}, path=str(project))
    results = tmp_path / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(project), "--group", "main.all",
        "--shard", "0", "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 workers" in done.stdout
    final = {r["id"]: r for r in read_results(results)["results"]}
    assert {i: r["status"] for i, r in final.items()} == {
        **dict.fromkeys(ids[:6], "passed"),
        "test_spread.py::test_many[4]": "failed",
        "test_spread.py::test_slow": "passed",
        "test_spread.py::test_skipped": "skipped",
    }
    assert 0.3 <= final["test_spread.py::test_slow"]["duration"] < 0.6


def test_under_xdist_each_test_is_one_live_result(tmp_path: Path) -> None:
    """The live results file (``DROVER_LIVE_RESULTS``) hears of each test from the controller
    only, as the progress record does, not from the xdist worker that ran it as well."""
    (tmp_path / "test_spread.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', range(8))\ndef test_many(n):\n    pass\n"
    )
    live = tmp_path / "live.jsonl"
    env = {**os.environ, LIVE_RESULTS_ENV: str(live), "PYTHONPATH": str(AGENT_DIR)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "drover_agent.pytest_plugin", "-p", "xdist",
         "-n", "2", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    nodeids = [json.loads(line)["nodeid"] for line in live.read_text().splitlines()]
    assert sorted(nodeids) == sorted(f"test_spread.py::test_many[{n}]" for n in range(8))


def test_an_unknown_group_is_a_plan_error(tmp_path: Path, run_agent: RunAgent) -> None:
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": []})
    results = tmp_path / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--group", "main.nope",
        "--shard", "0", "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 2
    assert "no plan for group 'main.nope'" in read_results(results)["error"]
