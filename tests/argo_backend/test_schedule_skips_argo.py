"""``schedule.skipped`` on Argo. Argo's cron controller skips a ``Forbid`` firing with only a log
line and a metric (``enforceRuntimePolicy``, workflow/cron/operator.go): no Event, no status
field. What it leaves is the fixed name of the workflow a firing makes (``getChildWorkflowName``:
``<cron>-<unix seconds of the tick>``); the facade announces a tick whose workflow never came
while a run of the schedule was going (api/schedules/skips.py). Against the fake Argo Server
(its ``fire_cron`` spawns workflows as that controller names them), real Postgres."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import OutboxEvent, Run
from api.schedules.skips import RunSpan, announce_argo_skips, skipped_firings
from tests.api.conftest import AUTH, database_url, postgres_url  # noqa: F401
from tests.argo_backend import test_service_argo as service_argo
from tests.argo_backend.test_schedules_argo import _schedule
from tests.argo_backend.test_service_argo import (
    ArtifactArgo,
    _eventually,
    _sessions,
    _shop_execution,
)

argo, client = service_argo.argo, service_argo.client


def _at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _iso(unix: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def _mirrored(client: TestClient, workflow: str, *, ended: bool) -> Run:
    def seen() -> Run | None:
        with _sessions(client)() as session:
            run = session.scalar(select(Run).where(Run.workflow_name == workflow))
        if run is None or run.started_at is None or (ended and run.finished_at is None):
            return None
        return run

    found: Run = _eventually(seen)
    return found


def test_a_forbid_firing_argo_skipped_is_announced_once(
    client: TestClient, argo: tuple[ArtifactArgo, str]
) -> None:
    fake, _ = argo
    execution_id = _shop_execution(client)
    schedule = _schedule(client, execution_id, cron="* * * * *", timezone="UTC")
    assert schedule["concurrency_policy"] == "Forbid"
    cron, sid = schedule["cron_workflow"], schedule["id"]
    t0 = (int(time.time()) // 60 - 10) * 60

    # Tick t0 fires; its run goes on until t0+150 s, through the ticks t0+60 and t0+120.
    first = fake.fire_cron(cron, t0)
    fake.update_status(first, phase="Running", startedAt=_iso(t0))
    _mirrored(client, first, ended=False)
    fake.update_status(first, phase="Succeeded", finishedAt=_iso(t0 + 150))
    first_run = _mirrored(client, first, ended=True)
    # Tick t0+180: nothing going and no workflow (the controller was down): not a skip.
    # Tick t0+240 fires; its run is still going at t0+300.
    second = fake.fire_cron(cron, t0 + 240)
    fake.update_status(second, phase="Running", startedAt=_iso(t0 + 240))
    second_run = _mirrored(client, second, ended=False)

    now = _at(t0 + 365)  # t0+300 is more than a minute old; t0+360 is not looked at yet
    with _sessions(client)() as session:
        assert announce_argo_skips(session, now) == 3
        session.commit()
        assert announce_argo_skips(session, now) == 0  # again, or another replica: no double
        session.commit()
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "schedule.skipped")
        ).all()
    skipped = {
        row.key: row.payload["schedule"] for row in rows if row.payload["schedule"]["id"] == sid
    }
    expected = {
        f"schedule.skipped/{sid}/{_at(t0 + 60).isoformat()}": first_run.id,
        f"schedule.skipped/{sid}/{_at(t0 + 120).isoformat()}": first_run.id,
        f"schedule.skipped/{sid}/{_at(t0 + 300).isoformat()}": second_run.id,
    }
    assert {key: info["active_run"] for key, info in skipped.items()} == expected
    info = next(iter(skipped.values()))
    assert (info["policy"], info["cron"]) == ("Forbid", "* * * * *")
    assert info["target"] == first_run.execution_name

    # An Allow schedule's firings are never skipped (Argo runs them alongside).
    allow = _schedule(client, execution_id, cron="* * * * *", concurrency_policy="Allow")
    alongside = fake.fire_cron(allow["cron_workflow"], t0)
    fake.update_status(alongside, phase="Running", startedAt=_iso(t0))
    _mirrored(client, alongside, ended=False)
    with _sessions(client)() as session:
        assert announce_argo_skips(session, now) == 0


def test_skipped_firings_need_a_missing_workflow_and_a_run_going() -> None:
    def span(name: str, began: int, ended: int | None) -> RunSpan:
        return RunSpan(name, "shop", f"c-{began}", _at(began), _at(ended) if ended else None)

    runs = [span("r1", 0, 150), span("r2", 240, None)]
    firings = [_at(t) for t in (0, 60, 120, 180, 240, 300)]
    found = [
        (int(moment.timestamp()), s.run_id) for moment, s in skipped_firings("c", firings, runs)
    ]
    assert found == [(60, "r1"), (120, "r1"), (300, "r2")]
