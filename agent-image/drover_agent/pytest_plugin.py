"""A pytest plugin the agent loads (``-p drover_agent.pytest_live``): one JSON line per test.

When a test's last phase (teardown) is reported, the plugin appends
``{"nodeid", "status", "duration", "error", "attempt"}`` to the file named by
``DROVER_LIVE_RESULTS``, in a single ``write`` on a file opened for appending, so lines from
several processes (pytest-xdist) never interleave. The agent tails the file to report each
scenario while pytest still runs; the JUnit XML stays the source of truth for the results file.
The status follows what pytest's JUnit report says for the same test.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

__all__ = ["LIVE_RESULTS_ENV", "pytest_runtest_logreport"]

LIVE_RESULTS_ENV = "DROVER_LIVE_RESULTS"
ERROR_TEXT_LIMIT = 4000

# Reports of the phases seen so far, per test, until its teardown arrives.
_phases: dict[str, list[pytest.TestReport]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get(LIVE_RESULTS_ENV)
    if not path:
        return
    _phases.setdefault(report.nodeid, []).append(report)
    if report.when != "teardown":
        return
    phases = _phases.pop(report.nodeid)
    status, failing = _status(phases)
    line = {
        "nodeid": report.nodeid,
        "status": status,
        "duration": round(sum(r.duration for r in phases), 3),
        "error": _message(failing) if failing is not None else None,
        "attempt": int(os.environ.get("DROVER_SCENARIO_ATTEMPT") or 1),
    }
    data = (json.dumps(line) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def _status(phases: list[pytest.TestReport]) -> tuple[str, pytest.TestReport | None]:
    """JUnit's verdict: a failed call is a failure, a failed setup or teardown an error."""
    for report in phases:
        if report.when == "call" and report.failed:
            return "failed", report
    for report in phases:
        if report.failed:
            return "error", report
    for report in phases:
        if report.skipped:
            return "skipped", report
    return "passed", None


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        message = str(longrepr[2]).removeprefix("Skipped: ")  # a skip: (file, line, reason)
    else:
        crash = getattr(longrepr, "reprcrash", None)
        message = str(getattr(crash, "message", "") or "") or report.longreprtext
    return message[:ERROR_TEXT_LIMIT] or report.outcome
