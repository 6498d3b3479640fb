"""The mirror's writes: recorded statuses in, only changes out; counters follow the latest attempt."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from api.mirror.executions import Mirror
from api.models import Run, RunGroup, RunWorker
from api.runs.results import ResultIn, ingest_results
from tests.status.test_parse_workflow import drover_status


@pytest.fixture
def sessions(client: TestClient) -> Any:
    return client.app.state.service.sessions  # type: ignore[attr-defined]


def _new_run(sessions: Any, run_id: str) -> None:
    with sessions() as session:
        session.add(
            Run(id=run_id, execution_name="shop", backend="none", spec={}, manifest={}, total=4)
        )
        session.commit()


def test_mirror_writes_only_what_changed(sessions: Any) -> None:
    _new_run(sessions, "mirror-1")
    mirror = Mirror(sessions, {})
    statements: list[str] = []
    engine = sessions.kw["bind"]

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        status = drover_status()
        assert mirror.apply("mirror-1", status, None) is False
        first = len(statements)
        assert first >= 3  # run fields, groups, workers
        statements.clear()
        mirror.apply("mirror-1", status, None)
        assert [s for s in statements if "drover_run_workers" in s and "INSERT" in s.upper()] == []
        node = next(
            n for n in status["status"]["nodes"].values() if n["name"].endswith("smoke(1:1)")
        )
        node["phase"] = "Succeeded"
        statements.clear()
        mirror.apply("mirror-1", status, None)
        upserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
        assert len(upserts) == 1 and "drover_run_workers" in upserts[0]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    with sessions() as session:
        run = session.get(Run, "mirror-1")
        assert run is not None and run.phase == "Running" and run.workflow_uid == "u-1"
        workers = session.scalars(select(RunWorker).where(RunWorker.run_id == "mirror-1")).all()
        assert {(w.group_key, w.shard, w.phase) for w in workers} == {
            ("storefront.smoke", 0, "Succeeded"),
            ("storefront.smoke", 1, "Succeeded"),
        }
        assert next(w for w in workers if w.shard == 0).summary == {
            "passed": 3,
            "failed": 1,
            "skipped": 0,
            "error": 0,
        }
        groups = {
            g.key: g.phase
            for g in session.scalars(select(RunGroup).where(RunGroup.run_id == "mirror-1"))
        }
        assert groups == {"storefront.smoke": "Running", "storefront.catalog": "Omitted"}


def test_pending_status_never_hides_a_known_phase(sessions: Any) -> None:
    _new_run(sessions, "mirror-2")
    mirror = Mirror(sessions, {})
    mirror.apply("mirror-2", drover_status(), None)
    unreconciled = drover_status()
    unreconciled["status"].pop("phase")
    Mirror(sessions, {}).apply("mirror-2", unreconciled, None)
    with sessions() as session:
        run = session.get(Run, "mirror-2")
        assert run is not None and run.phase == "Running"


def test_counters_follow_the_latest_attempt(sessions: Any) -> None:
    _new_run(sessions, "mirror-3")
    batches = [
        [
            ResultIn(scenario_id="a", status="failed", attempt=0),
            ResultIn(scenario_id="b", status="passed"),
        ],
        [
            ResultIn(scenario_id="a", status="passed", attempt=1),
            ResultIn(scenario_id="c", status="error"),
        ],
        [
            ResultIn(scenario_id="a", status="failed", attempt=0),
            ResultIn(scenario_id="c", status="skipped", attempt=2),
        ],
    ]
    for batch in batches:
        with sessions() as session:
            ingest_results(session, "mirror-3", batch)
            session.commit()
    with sessions() as session:
        run = session.get(Run, "mirror-3")
        assert run is not None
        assert (run.passed, run.failed, run.skipped, run.errored) == (2, 0, 1, 0)


def test_counters_and_history_are_recorded_when_the_last_planned_worker_is_read(
    sessions: Any,
) -> None:
    """No result comes after the workers': the run's history is recorded while its exit
    handler still runs, once; a result the service stores later is still counted."""
    from api.models import Scenario

    run_id = "mirror-4"
    with sessions() as session:
        spec = {"project": {"name": "mirror-4"}}  # a history of its own
        session.add(Run(id=run_id, execution_name="m4", backend="none", spec=spec, manifest={}))
        session.add(RunGroup(run_id=run_id, key="storefront.smoke", name="smoke", planned=True))
        session.add_all(
            RunWorker(run_id=run_id, group_key="storefront.smoke", shard=i) for i in (0, 1)
        )
        session.flush()
        posted = [
            ResultIn(scenario_id="m4::a", status="passed", duration=1.0),
            ResultIn(scenario_id="m4::b", status="failed", duration=2.0),
        ]
        ingest_results(session, run_id, posted)
        session.commit()

    def history() -> dict[str, list[float]]:
        with sessions() as session:
            rows = session.scalars(select(Scenario).where(Scenario.last_run_id == run_id))
            return {row.scenario_id: row.durations for row in rows}

    mirror = Mirror(sessions, {})
    status = drover_status()
    assert mirror.apply(run_id, status, None) is False
    assert history() == {}  # a worker still runs

    nodes = status["status"]["nodes"].values()
    for node in nodes:
        if "smoke(1:1)" in node["name"]:
            node["phase"] = "Succeeded"
    assert mirror.apply(run_id, status, None) is False  # the exit handler's turn
    assert history() == {"m4::a": [1.0], "m4::b": [2.0]}

    with sessions() as session:
        ingest_results(session, run_id, [ResultIn(scenario_id="m4::c", status="skipped")])
        session.commit()
    status["status"]["phase"] = "Succeeded"
    status["status"]["finishedAt"] = "2026-01-01T00:01:00Z"
    assert mirror.apply(run_id, status, None) is True
    assert history() == {"m4::a": [1.0], "m4::b": [2.0]}  # not recorded twice
    with sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None and (run.passed, run.failed, run.skipped) == (1, 1, 1)


def _failed_copy() -> dict[str, Any]:
    """The workflow of ``drover_status`` at its end: its running worker failed."""
    status = drover_status()
    for node in status["status"]["nodes"].values():
        if node["phase"] == "Running":
            node.update(phase="Failed", finishedAt="2026-01-01T00:01:00Z")
    status["status"].update(phase="Failed", finishedAt="2026-01-01T00:01:00Z", message="failed")
    return status


def _retried_copy() -> dict[str, Any]:
    """The same workflow once retried: running again, restamped (createNewRetryWorkflow)."""
    status = _failed_copy()
    status["status"].update(
        phase="Running", startedAt="2026-01-01T00:05:00Z", finishedAt=None, message=""
    )
    return status


def _phase_and_attempt(sessions: Any, run_id: str) -> tuple[str, int]:
    with sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run.phase, run.attempt


def test_a_retry_recorded_while_the_failed_attempts_results_are_read_stands(
    sessions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end of a failed workflow is written once its workers' results are read; a retry
    the API records in between (the run read Failed from an earlier copy) is the run's state,
    not undone by that end (CI saw a retried run's worker token refused as if it had ended)."""
    from api.runs.attempts import record_retry

    _new_run(sessions, "mirror-5")
    Mirror(sessions, {}).apply("mirror-5", _failed_copy(), None)
    assert _phase_and_attempt(sessions, "mirror-5") == ("Failed", 1)

    mirror = Mirror(sessions, {})  # another reader of the same copy: the resync, a re-list
    read = mirror._read_finished_workers

    def retried_meanwhile(*args: Any) -> bool:
        with sessions() as session:
            assert record_retry(session, "mirror-5")
            session.commit()
        return read(*args)

    monkeypatch.setattr(mirror, "_read_finished_workers", retried_meanwhile)
    assert mirror.apply("mirror-5", _failed_copy(), None) is False
    assert _phase_and_attempt(sessions, "mirror-5") == ("Running", 2)
    # Nor are the failed attempt's results taken for the retried one's: the worker the retry
    # runs again stays unread until its new pod's results are there.
    with sessions() as session:
        unread = session.scalars(
            select(RunWorker.shard).where(
                RunWorker.run_id == "mirror-5", RunWorker.results_read.is_(False)
            )
        ).all()
    assert unread == [1]


def test_a_copy_of_the_failed_attempt_read_after_the_retried_one_is_stale(
    sessions: Any,
) -> None:
    """Once the retried workflow's state is written (its new start, no end), a copy of the
    failed attempt (a started-earlier ``startedAt``) does not end the run again."""
    from api.runs.attempts import record_retry

    _new_run(sessions, "mirror-6")
    Mirror(sessions, {}).apply("mirror-6", _failed_copy(), None)
    with sessions() as session:
        assert record_retry(session, "mirror-6")
        session.commit()
    Mirror(sessions, {}).apply("mirror-6", _retried_copy(), None)
    assert Mirror(sessions, {}).apply("mirror-6", _failed_copy(), None) is False
    assert _phase_and_attempt(sessions, "mirror-6") == ("Running", 2)
    with sessions() as session:
        run = session.get(Run, "mirror-6")
        assert run is not None and run.finished_at is None


def test_start_run_and_follow_in_process_as_drover_run_does(client: TestClient) -> None:
    """The CLI path: start_run with an ad-hoc spec (relative project path), then follow; the
    finished run's scenarios then feed the next plan (durations, last outcomes)."""
    from api.models import Scenario
    from api.runs.control import start_run
    from api.runs.history import apply_history
    from engine.loading import load_execution
    from tests.api.test_run_e2e import SHOP

    service = client.app.state.service  # type: ignore[attr-defined]
    spec = load_execution(SHOP / "execution.yaml")
    mirror = Mirror(service.sessions, service.backends, poll_interval=0.1)
    seen: list[str] = []
    with service.sessions() as session:
        started = start_run(
            session, backend=service.backend(), spec=spec, base_dir=SHOP.parent.parent
        )
    final = mirror.follow(started.run.id, lambda state: seen.append(state.phase))
    assert final is not None and final.final
    assert "Running" in seen
    with service.sessions() as session:
        run = session.get(Run, started.run.id)
        assert run is not None and run.passed + run.failed + run.skipped == run.total == 24
        assert run.execution_id is None and run.workflow_name is not None

    unknown = [s.id for s in spec.scenarios if s.duration is None]
    assert unknown
    with service.sessions() as session:
        history = session.scalars(select(Scenario).where(Scenario.project == "shop")).all()
        assert len(history) == 24
        assert {h.last_status for h in history} == {"passed", "failed", "skipped"}
        planned = apply_history(session, spec)
    durations = {s.id: s.duration for s in planned.scenarios}
    assert all(durations[i] is not None for i in unknown if i.endswith("[CHS]"))
    failed = [s for s in planned.scenarios if s.last_status == "failed"]
    assert [s.id for s in failed] == [
        "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros"
    ]


def test_only_a_copy_started_after_a_finished_run_is_a_retry_of_it() -> None:
    """A watch resumed from an earlier resourceVersion replays a finished workflow as it was
    (CI met a resubmitted run counted a fourth attempt for its own replayed, unstarted copy)."""
    from datetime import UTC, datetime

    from api.runs.attempts import workflow_runs_again

    started = datetime(2026, 1, 1, tzinfo=UTC)

    def copy(phase: str | None, started_at: str | None) -> dict[str, Any]:
        return {"status": {"phase": phase, "startedAt": started_at}}

    assert workflow_runs_again(copy("Running", "2026-01-01T00:05:00Z"), started)  # retried
    assert workflow_runs_again(copy("Failed", "2026-01-01T00:05:00Z"), started)  # and ended
    assert not workflow_runs_again(copy(None, None), started)  # as it was created
    assert not workflow_runs_again(copy("Running", "2026-01-01T00:00:00Z"), started)  # a replay
    assert not workflow_runs_again(copy("Succeeded", "2026-01-01T00:00:00Z"), started)
