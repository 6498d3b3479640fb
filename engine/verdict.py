"""A run's verdict: what its results say, apart from how its workflow ended.

Argo's workflow phase is not a test verdict. A group with ``continue_on_failure`` is a task
that others depend on with ``.Failed``/``.Errored``, and Argo counts such a failure as handled:
``assessDAGPhase`` (workflow/controller/dag.go) only fails a DAG for failed tasks no other task
ran after. So a failed group followed by a passing one ends ``Succeeded``. The verdict comes
from the scenarios instead, and is ``passed`` only when every planned scenario passed or was
skipped and the workflow succeeded.

Pure: the API's run views, the CLI and the dashboard call :func:`run_verdict` with counts they
read themselves.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["Verdict", "run_verdict"]

_FINAL: Final = frozenset({"Succeeded", "Failed", "Error"})


class Verdict(StrEnum):
    RUNNING = "running"
    """The workflow has not ended: no verdict yet."""
    PASSED = "passed"
    """Every planned scenario passed or was skipped, and the workflow succeeded."""
    FAILED = "failed"
    """At least one scenario failed (a test's own verdict)."""
    ERROR = "error"
    """No scenario failed, but some errored or never ran, or the workflow itself failed."""


def run_verdict(
    phase: str | None,
    *,
    total: int,
    passed: int,
    failed: int,
    errored: int,
    skipped: int,
) -> Verdict:
    """The verdict of a run in ``phase`` whose ``total`` planned scenarios ended as counted.

    ``total`` is the planned count: scenarios without a result (their worker died, setup-env
    failed, their group never started) make the run an error, never a pass.
    """
    if phase not in _FINAL:
        return Verdict.RUNNING
    if failed:
        return Verdict.FAILED
    not_run = total - (passed + errored + skipped)
    if errored or not_run > 0 or phase != "Succeeded":
        return Verdict.ERROR
    return Verdict.PASSED
