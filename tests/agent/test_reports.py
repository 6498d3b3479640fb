"""Pure parts of the agent: plan files, and reading each runner's report back into outcomes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from agent_plans import SHOP, RunAgent, write_plan
from drover_agent.cleanup import summary
from drover_agent.plan import PlanError, load_group_plan
from drover_agent.runners.base import Outcome
from drover_agent.runners.cucumber_json import parse_cucumber_json
from drover_agent.runners.playwright_json import parse_playwright_json
from drover_agent.runners.pytest_session import JunitCase, junit_key, match_testcases, rootdir_shift


def _group(workers: dict[str, list[str]]) -> dict[str, object]:
    return {"version": 1, "group": "f.g", "flow": "f", "name": "g", "threads": 4,
            "strategy": "duration", "retries": 1, "scenario_timeout": 30,
            "workers": {k: [{"id": i} for i in v] for k, v in workers.items()}}  # fmt: skip


def test_split_and_compressed_group_parts_are_merged(tmp_path: Path) -> None:
    (tmp_path / "f.g.part0.json.gz").write_bytes(
        gzip.compress(json.dumps(_group({"0": ["a"], "1": ["b"]})).encode())
    )
    (tmp_path / "f.g.part1.json").write_text(json.dumps(_group({"2": ["c"], "3": []})))
    (tmp_path / "f.gx.json").write_text("not this group")
    group = load_group_plan(tmp_path, "f.g")
    assert [[s.id for s in group.shard(i)] for i in range(4)] == [["a"], ["b"], ["c"], []]
    assert (group.retries, group.scenario_timeout) == (1, 30.0)
    with pytest.raises(PlanError, match="no shard 4"):
        group.shard(4)


def test_a_newer_plan_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f.g.json").write_text(json.dumps({**_group({"0": []}), "version": 2}))
    with pytest.raises(PlanError, match="version 2"):
        load_group_plan(tmp_path, "f.g")


def test_junit_keys_follow_pytest() -> None:
    assert junit_key("tests/cart/test_cart.py::TestRemoval::test_remove_many") == (
        "tests.cart.test_cart.TestRemoval.test_remove_many"
    )
    assert junit_key("t/test_a.py::test_x[a::b/c.py]") == "t.test_a.test_x[a::b/c.py]"


def test_testcases_map_to_ids_exactly_or_by_container() -> None:
    passed, failed = Outcome("passed", 1.0), Outcome("failed", 2.0, "boom")
    cases = [
        JunitCase("tests.test_a.test_x[1]", passed),
        JunitCase("tests.test_a.test_x[2]", failed),
        JunitCase("tests.test_b.test_y", passed),
    ]
    outcomes = match_testcases(
        [
            "tests/test_a.py::test_x[1]",
            "tests/test_a.py",
            "tests/test_b.py::test_y",
            "tests/test_c.py",
        ],
        cases,
    )
    assert outcomes["tests/test_a.py::test_x[1]"] == passed
    assert outcomes["tests/test_a.py"] == Outcome("failed", 3.0, "boom")
    assert outcomes["tests/test_b.py::test_y"] == passed
    assert "tests/test_c.py" not in outcomes


def test_testcases_of_a_rootdir_above_or_below_map_by_that_rootdir_only() -> None:
    passed, skipped = Outcome("passed", 1.0), Outcome("skipped", 0.0, "no tool here")
    assert rootdir_shift("/w", "/w/sub/proj") == "+sub.proj."
    assert rootdir_shift("/w/proj/tests", "/w/proj") == "-tests."
    assert rootdir_shift("/w", "/w") == ""
    above = [JunitCase("sub.tests.test_b.test_y", passed)]
    assert match_testcases(["tests/test_b.py::test_y"], above, "+sub.") == {
        "tests/test_b.py::test_y": passed
    }
    below = [JunitCase("test_b.test_y", passed)]
    assert match_testcases(["tests/test_b.py::test_y"], below, "-tests.") == {
        "tests/test_b.py::test_y": passed
    }
    # Same file names in two directories; one module skipped itself in the pod. Its test takes
    # the module's outcome, never the other directory's test's.
    cases = [JunitCase("tests.test_x", skipped), JunitCase("a.tests.test_x.test_q", passed)]
    outcomes = match_testcases(
        ["tests/test_x.py::test_q", "a/tests/test_x.py::test_q", "tests/test_x.py"], cases
    )
    assert outcomes == {
        "tests/test_x.py::test_q": skipped,
        "a/tests/test_x.py::test_q": passed,
        "tests/test_x.py": skipped,
    }


def test_cucumber_json_elements_become_path_line_outcomes() -> None:
    def step(status: str, error: str | None = None) -> dict[str, object]:
        result: dict[str, object] = {"status": status, "duration": 1_500_000_000}
        if error:
            result["error_message"] = error
        return {"keyword": "Given ", "result": result}

    report = [
        {"uri": "features/cart.feature", "elements": [
            {"type": "background", "line": 5, "steps": [step("passed")]},
            {"type": "scenario", "line": 9, "steps": [step("passed"), step("passed")]},
            {"type": "scenario", "line": 27, "steps": [step("failed", "expected 9.00"), step("skipped")]},
            {"type": "scenario", "line": 28, "steps": [step("undefined")]},
            {"type": "scenario", "line": 33, "steps": [step("skipped")]},
        ]},
    ]  # fmt: skip
    outcomes = parse_cucumber_json(report)
    assert outcomes["features/cart.feature:9"] == Outcome("passed", 3.0)
    assert outcomes["features/cart.feature:27"] == Outcome(
        "failed", 3.0, "Given failed:\nexpected 9.00"
    )
    assert outcomes["features/cart.feature:28"].status == "failed"
    assert outcomes["features/cart.feature:33"].status == "skipped"
    assert "features/cart.feature:5" not in outcomes


def test_playwright_json_specs_combine_their_projects() -> None:
    def test(status: str, result: str, **extra: object) -> dict[str, object]:
        return {"projectName": "p", "status": status,
                "results": [{"status": result, "duration": 250, **extra}]}  # fmt: skip

    shot = {"name": "screenshot", "path": "/ws/test-results/a/shot.png", "contentType": "image/png"}
    report = {
        "config": {"rootDir": "/ws/tests"},
        "suites": [{"title": "a.spec.ts", "file": "a.spec.ts", "specs": [
            {"title": "ok", "file": "a.spec.ts", "line": 3, "tests": [test("expected", "passed"), test("flaky", "passed")]},
        ], "suites": [{"title": "d", "file": "a.spec.ts", "specs": [
            {"title": "bad", "file": "a.spec.ts", "line": 8, "tests": [
                test("expected", "passed"),
                test("unexpected", "failed", errors=[{"message": "Error: totals must match"}], attachments=[shot]),
            ]},
            {"title": "later", "file": "a.spec.ts", "line": 11, "tests": [test("skipped", "skipped")]},
        ]}]}],
    }  # fmt: skip
    outcomes = parse_playwright_json(report, Path("/ws"))
    assert outcomes["tests/a.spec.ts:3"] == Outcome("passed", 0.5)
    assert outcomes["tests/a.spec.ts:8"] == Outcome(  # both tests on the line, combined
        "failed", 0.5, "d \u203a bad: Error: totals must match", ["/ws/test-results/a/shot.png"]
    )
    assert outcomes["[p] \u203a tests/a.spec.ts:3 \u203a ok"].status == "passed"  # flaky
    assert outcomes["tests/a.spec.ts:11"].status == "skipped"


def test_cleanup_summarises_results(tmp_path: Path, run_agent: RunAgent) -> None:
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": []})
    results = tmp_path / "results"
    results.mkdir()
    shard = {"group": "main.all", "results": [
        {"id": "a", "status": "passed"}, {"id": "b", "status": "failed", "error": "boom\nmore"}]}  # fmt: skip
    (results / "main.all-0.json").write_text(json.dumps(shard))
    text = summary(plan, "Failed", results)
    assert text.splitlines()[0] == "execution shop: workflow Failed"
    assert "main.all: 1 passed, 1 failed, 0 skipped, 0 error" in text
    assert "failed: b  boom" in text
    done = run_agent("cleanup", "--plan-dir", str(plan), "--status", "Succeeded")
    assert (done.returncode, done.stdout.strip()) == (0, "execution shop: workflow Succeeded")
    assert SHOP.is_dir()
