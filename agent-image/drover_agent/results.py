"""Per-scenario results of one shard, and the JSON file the workflow keeps as an output artifact."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Property",
    "STATUSES",
    "ScenarioResult",
    "ShardReport",
    "Status",
    "count_statuses",
    "read_cost",
    "read_properties",
    "utc_now",
    "write_report",
]

Status = Literal["passed", "failed", "skipped", "error"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "skipped", "error")
FAILING: frozenset[str] = frozenset({"failed", "error"})


Property = tuple[str, str]
"""A name and value a test recorded about itself (pytest's ``record_property``), as JUnit's
``<property>`` carries them."""
PROPERTY_LIMIT = 100
"""Properties kept per result: what the service accepts (``ResultIn.properties``)."""
PROPERTY_TEXT_LIMIT = 4000
"""Characters kept of a property's name or value."""


def read_properties(value: object) -> tuple[Property, ...]:
    """``properties`` as a result line gives them: [name, value] pairs, the rest ignored."""
    if not isinstance(value, list):
        return ()
    pairs = [
        (str(pair[0])[:PROPERTY_TEXT_LIMIT], str(pair[1])[:PROPERTY_TEXT_LIMIT])
        for pair in value
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]
    return tuple(pairs[:PROPERTY_LIMIT])


def read_cost(value: object) -> float | None:
    """A ``cost`` as a result line gives it: seconds, or None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e9:
        return float(value)
    return None


@dataclass(frozen=True)
class ScenarioResult:
    id: str
    status: Status
    duration: float
    attempt: int
    error: str | None = None
    artifacts: list[str] = field(default_factory=list)
    """File names of the kept artifacts (in ``artifact_dir``), or, when the worker keeps no
    reports, the paths the runner gave."""
    artifact_dir: str | None = None
    """Where ``artifacts`` are, relative to the worker's kept reports (see :mod:`kept`)."""
    cost: float | None = None
    """Seconds the session spent on it, overhead included (``Outcome.cost``)."""
    properties: tuple[Property, ...] = ()

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    @property
    def spent(self) -> float:
        """What the session spent on it: its cost where measured, else its reported duration
        (which leaves out pytest's own time per test, most of a short test's)."""
        return self.duration if self.cost is None else self.cost

    def to_json(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies every value, which shows with 10,000s of results.
        return {
            "id": self.id,
            "status": self.status,
            "duration": self.duration,
            "attempt": self.attempt,
            "error": self.error,
            "artifacts": list(self.artifacts),
            "artifact_dir": self.artifact_dir,
            "cost": self.cost,
            **({"properties": [list(p) for p in self.properties]} if self.properties else {}),
        }


@dataclass
class ShardReport:
    """What ``run`` writes: the final result of every scenario, earlier attempts in ``retried``."""

    group: str
    shard: int
    attempt: int
    runner: str
    started_at: str
    finished_at: str | None = None
    results: list[ScenarioResult] = field(default_factory=list)
    retried: list[ScenarioResult] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not any(r.failing for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "group": self.group,
            "shard": self.shard,
            "attempt": self.attempt,
            "runner": self.runner,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "results": [r.to_json() for r in self.results],
            "retried": [r.to_json() for r in self.retried],
            "counts": count_statuses(self.results),
            "error": self.error,
        }


def count_statuses(results: list[ScenarioResult]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result.status] += 1
    return counts


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_report(report: ShardReport, *paths: Path) -> None:
    """Write to each of ``paths`` atomically, so a reader never sees half a file even if the
    pod is killed. Compact JSON, serialised once: json's C encoder does not indent, and its
    pure-Python one takes 0.2 s for a shard of 30,000 results."""
    text = json.dumps(report.to_json()) + "\n"
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
