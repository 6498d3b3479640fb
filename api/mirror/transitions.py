"""Rules for what the mirror may change, as small pure functions (Prefect style).

Each rule looks at the stored value and the one the backend proposes, and returns the value
to keep. ``api.mirror.executions`` applies them and writes in one place; nothing here touches the
database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from engine.status import FINAL_PHASES

__all__ = [
    "PHASE_RULES",
    "accept_phase",
    "as_utc",
    "is_stale",
    "latest_status",
    "result_counts",
]

PhaseRule = Callable[[str, str], str]

_ACTIVE: Final = frozenset({"Running", "Succeeded", "Failed", "Error"})


def keep_known_over_pending(current: str, proposed: str) -> str:
    """A status without a phase (not yet reconciled) never hides a phase already seen."""
    return current if proposed == "Pending" and current in _ACTIVE else proposed


def keep_cancel_marker(current: str, proposed: str) -> str:
    """``Canceling`` is ours (the user asked to stop); only a final phase replaces it."""
    if current == "Canceling" and proposed not in FINAL_PHASES:
        return current
    return proposed


PHASE_RULES: Final[tuple[PhaseRule, ...]] = (keep_known_over_pending, keep_cancel_marker)


def accept_phase(current: str | None, proposed: str) -> str:
    """The phase to store after applying every rule in order."""
    if current is None:
        return proposed
    value = proposed
    for rule in PHASE_RULES:
        value = rule(current, value)
    return value


def is_stale(
    current: str | None,
    proposed: str | None,
    *,
    attempt: tuple[datetime | None, datetime | None] = (None, None),
    proposed_attempt: tuple[datetime | None, datetime | None] = (None, None),
) -> bool:
    """A copy of the workflow from before the run's last change of attempt.

    A finished run runs again only through a recorded retry or resubmission, which make it
    unfinished before its workflow's new state is written: a running copy of a finished run
    was read before its end (before its deletion, say) and applied after. A retry keeps the
    start and end of the attempt it retries (``attempt``) until the workflow is seen running
    again, and a retry restamps the workflow's ``status.startedAt`` (createNewRetryWorkflow,
    workflow/util/util.go): a finished copy that started and ended no later than that attempt
    is from before the retry (a lagging watch delivers the archiving's update after the retry
    from the archive is recorded), and so is one that started before the retried workflow
    did, once that is written. All these times are the cluster's, so clocks do not matter.
    """
    if current in FINAL_PHASES:
        return proposed is not None and proposed not in FINAL_PHASES
    (started, finished), (proposed_started, proposed_finished) = attempt, proposed_attempt
    if proposed not in FINAL_PHASES or started is None or proposed_started is None:
        return False
    if as_utc(proposed_started) < as_utc(started):
        return True
    if finished is None or proposed_finished is None:
        return False
    started_no_later = as_utc(proposed_started) <= as_utc(started)
    return started_no_later and as_utc(proposed_finished) <= as_utc(finished)


def as_utc(moment: datetime) -> datetime:
    """``moment`` with its zone: the database's timestamp columns hold UTC without one."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_STATUS_RANK: Final = {"error": 3, "failed": 2, "passed": 1, "skipped": 0}


def latest_status(statuses_by_attempt: dict[int, str]) -> str:
    """The status that counts for a scenario: the one of its highest attempt."""
    return statuses_by_attempt[max(statuses_by_attempt)]


def result_counts(statuses: list[str]) -> dict[str, int]:
    """Counters of a run from the statuses that count (one per scenario)."""
    counts = dict.fromkeys(_STATUS_RANK, 0)
    for status in statuses:
        counts[status if status in counts else "error"] += 1
    return counts
