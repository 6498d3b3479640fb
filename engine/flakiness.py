"""Is a scenario flaky? Its outcomes across recent runs say so (pure).

A scenario is flaky when, in the runs looked at,

- it passed only on a rerun in some run (an earlier attempt failed or errored, the last
  passed): the test changed its mind with nothing changed; or
- its outcomes are mixed: it passed in some runs and failed or errored in others.

Skipped outcomes and runs where it did not run say nothing either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Flakiness", "RunOutcome", "assess_flakiness"]

_BAD = frozenset({"failed", "error"})


@dataclass(frozen=True)
class RunOutcome:
    """A scenario's attempts in one run, oldest first."""

    statuses: tuple[str, ...]

    @property
    def final(self) -> str:
        return self.statuses[-1] if self.statuses else "not_run"

    @property
    def passed_on_rerun(self) -> bool:
        return self.final == "passed" and any(s in _BAD for s in self.statuses[:-1])


@dataclass(frozen=True)
class Flakiness:
    flaky: bool
    reason: str | None
    """Why, in words a person reads: ``passed only on rerun in 2 of 10 runs``."""
    pass_rate: float | None
    """Runs it finally passed in, of the runs it passed or failed in (None: no such run)."""


def assess_flakiness(outcomes: Sequence[RunOutcome]) -> Flakiness:
    """Flakiness over ``outcomes`` (one per run, any order)."""
    finals = [o.final for o in outcomes]
    decided = [f for f in finals if f == "passed" or f in _BAD]
    passed = sum(1 for f in decided if f == "passed")
    rate = round(passed / len(decided), 3) if decided else None
    reruns = sum(1 for o in outcomes if o.passed_on_rerun)
    reasons = []
    if reruns:
        reasons.append(f"passed only on rerun in {reruns} of {len(outcomes)} runs")
    if passed and passed < len(decided):
        reasons.append(f"passed in {passed} of {len(decided)} runs, failed in the others")
    return Flakiness(flaky=bool(reasons), reason="; ".join(reasons) or None, pass_rate=rate)
