"""Playwright scenario ids: what they name, and which reported tests they hold."""

from __future__ import annotations

from drover_agent.runners.base import Outcome
from drover_agent.runners.playwright_json import (
    ReportedTest,
    ScenarioRef,
    format_test_id,
    outcome_for,
    parse_test_id,
)

S = "\u203a"


def reported(project: str, line: int, *titles: str, status: str = "passed") -> ReportedTest:
    error = None if status == "passed" else "Error: boom"
    outcome = Outcome(status, 0.5, error)  # type: ignore[arg-type]
    return ReportedTest(project, "tests/a.spec.ts", line, titles, outcome)


TESTS = [
    reported("alpha", 3, "loop 1"),
    reported("alpha", 3, "loop 2", status="failed"),
    reported("beta", 3, "loop 1"),
    reported("alpha", 8, "serial", "first"),
    reported("alpha", 9, "serial", "second", status="failed"),
    reported("alpha", 10, "serial", "third", status="skipped"),
]


def test_ids_round_trip() -> None:
    for ref in (
        ScenarioRef("alpha", "tests/a.spec.ts", 3, ("d", "a > b")),
        ScenarioRef(None, "tests/a b.spec.ts", 3, ("t",)),
        ScenarioRef("beta", "tests/a.spec.ts", None, ()),
        ScenarioRef(None, "tests/a.spec.ts", 12, ()),
    ):
        assert (
            parse_test_id(format_test_id(ref.project or "", ref.file, ref.line, ref.titles)) == ref
        )


def test_one_test_of_one_project_despite_sharing_a_line() -> None:
    assert outcome_for(f"[alpha] {S} tests/a.spec.ts:3 {S} loop 1", TESTS) == TESTS[0].outcome
    assert outcome_for(f"[alpha] {S} tests/a.spec.ts:3 {S} loop 2", TESTS) == TESTS[1].outcome
    assert outcome_for(f"[beta] {S} tests/a.spec.ts:3 {S} loop 1", TESTS) == TESTS[2].outcome
    # A test that moved since the plan was made is still found by its titles.
    assert outcome_for(f"[beta] {S} tests/a.spec.ts:5 {S} loop 1", TESTS) == TESTS[2].outcome
    assert outcome_for(f"[beta] {S} tests/a.spec.ts:3 {S} loop 2", TESTS) is None


def test_groups_lines_and_files_combine_their_tests() -> None:
    serial = outcome_for(f"[alpha] {S} tests/a.spec.ts:7 {S} serial", TESTS)
    assert serial == Outcome("failed", 1.5, f"serial {S} second: Error: boom")
    line = outcome_for("tests/a.spec.ts:3", TESTS)
    assert line is not None and (line.status, line.duration) == ("failed", 1.5)
    whole = outcome_for(f"[beta] {S} tests/a.spec.ts", TESTS)
    assert whole == TESTS[2].outcome
    assert outcome_for("not a test id", TESTS) is None
