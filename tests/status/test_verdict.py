"""Defect 14 of issue 12: a run whose scenarios failed is never reported as a plain success.

Argo ends a workflow ``Succeeded`` when a failed task was followed by one that depends on it
with ``.Failed`` (workflow/controller/dag.go, ``assessDAGPhase``: a failed task counts only
when no other task ran after it), which is what a ``continue_on_failure`` group compiles to.
The verdict is read from the results instead (engine/verdict.py).
"""

from __future__ import annotations

import pytest

from engine.verdict import Verdict, run_verdict


def _verdict(phase: str | None, **counts: int) -> Verdict:
    values = {"total": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0, **counts}
    return run_verdict(phase, **values)


def test_defect_14_failed_group_then_passing_group_is_not_a_success() -> None:
    # A failed continue_on_failure group (1 failed) then a passing group (3 passed): Argo says
    # Succeeded, the verdict says failed.
    assert _verdict("Succeeded", total=4, passed=3, failed=1) is Verdict.FAILED


@pytest.mark.parametrize("phase", [None, "Pending", "Running", "Canceling"])
def test_no_verdict_before_the_workflow_ends(phase: str | None) -> None:
    assert _verdict(phase, total=2, failed=1) is Verdict.RUNNING


def test_every_scenario_passed_or_skipped_and_the_workflow_succeeded_is_a_pass() -> None:
    assert _verdict("Succeeded", total=3, passed=2, skipped=1) is Verdict.PASSED


@pytest.mark.parametrize(
    ("phase", "counts"),
    [
        ("Succeeded", {"total": 2, "passed": 1, "errored": 1}),  # an errored scenario
        ("Succeeded", {"total": 2, "passed": 1}),  # one scenario has no result
        ("Failed", {"total": 1, "passed": 1}),  # the workflow failed (exit handler, deadline)
        ("Error", {"total": 0}),  # setup-env never succeeded
    ],
)
def test_errors_and_missing_results_are_never_a_pass(phase: str, counts: dict[str, int]) -> None:
    assert _verdict(phase, **counts) is Verdict.ERROR


def test_a_failure_outranks_errors_and_the_phase() -> None:
    assert _verdict("Error", total=3, failed=1, errored=1) is Verdict.FAILED
