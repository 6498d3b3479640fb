"""Queue mode: workers lease their group's next scenarios, longest expected first.

A lease not reported within its timeout returns to the queue. A worker that asks again first
gets back its own unfinished scenarios, expired or not: a retried pod asks under the same worker
id as the pod it replaces (the compiled worker's ``DROVER_WORKER`` is its workflow, group and
index, never the pod's name), so it picks up what that pod held without waiting for expiry. Rows
are taken with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent workers never get the same
scenario.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.orm import Session

from api.models import LeaseItem

__all__ = ["Lease", "lease_scenarios"]


class Lease:
    def __init__(self, scenarios: list[str], done: bool) -> None:
        self.scenarios = scenarios
        self.done = done


def lease_scenarios(
    session: Session,
    *,
    run_id: str,
    group_key: str,
    worker: str,
    count: int = 1,
    lease_seconds: float = 300.0,
    now: datetime | None = None,
) -> Lease:
    """Hand ``worker`` up to ``count`` scenarios and commit; ``done`` when the group is drained."""
    now = now or datetime.now(UTC)
    in_group = and_(LeaseItem.run_id == run_id, LeaseItem.group_key == group_key)
    expired = and_(LeaseItem.state == "leased", LeaseItem.leased_until < now)
    own = and_(LeaseItem.state == "leased", LeaseItem.worker == worker)
    available = or_(LeaseItem.state == "queued", expired, own)
    rows = session.scalars(
        select(LeaseItem)
        .where(in_group, available)
        .order_by(
            case((LeaseItem.worker == worker, 0), else_=1),
            LeaseItem.expected.desc(),
            LeaseItem.scenario_id,
        )
        .limit(count)
        .with_for_update(skip_locked=True)
    ).all()
    until = now + timedelta(seconds=lease_seconds)
    for row in rows:
        row.state, row.worker, row.leased_until, row.leases = (
            "leased",
            worker,
            until,
            row.leases + 1,
        )
    session.flush()
    done = not rows and not session.scalar(
        select(exists().where(in_group, LeaseItem.state != "done"))
    )
    session.commit()
    return Lease([r.scenario_id for r in rows], done)


def complete_scenarios(session: Session, *, run_id: str, scenario_ids: list[str]) -> None:
    session.execute(
        update(LeaseItem)
        .where(LeaseItem.run_id == run_id, LeaseItem.scenario_id.in_(scenario_ids))
        .values(state="done", leased_until=None)
    )
