"""Retention on the real Postgres: finished execution and pipeline runs older than the cut-off go,
with their job rows (outputs, results) and their workflows' files (logs); unfinished or recent
runs stay. ``drover gc`` reports both kinds."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.models import PipelineRun, PipelineRunJob, Run
from api.retention import purge
from api.service import Service
from api.settings import Settings, get_settings
from engine.cli import app
from tests.api.conftest import AUTH
from tests.api.test_pipeline_control import wait_job
from tests.api.test_pipelines_api import create, start, wait_final

OLD = datetime.now(UTC) - timedelta(days=40)


def service(client: TestClient) -> Service:
    found: Service = client.app.state.service  # type: ignore[attr-defined]
    return found


@pytest.fixture
def sessions(client: TestClient) -> sessionmaker[Session]:
    return service(client).sessions


@pytest.fixture(autouse=True)
def no_leftovers(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Each test starts from no runs (the module shares one database)."""
    yield
    with sessions() as session:
        session.execute(delete(PipelineRun))
        session.execute(delete(Run))
        session.commit()


def pipeline(name: str, source: str) -> dict[str, Any]:
    return {
        "kind": "Pipeline",
        "name": f"{name}-{secrets.token_hex(3)}",
        "jobs": [
            {"name": "work", "outputs": ["n"], "script": {"language": "python", "source": source}}
        ],
    }


def age(session: Session, *run_ids: str) -> None:
    session.execute(update(PipelineRun).where(PipelineRun.id.in_(run_ids)).values(created_at=OLD))
    session.commit()


def bare_pipeline_run(session: Session, phase: str, created_at: datetime = OLD) -> str:
    """A run row with no workflow behind it (retention must not need one), on a backend the
    service lacks, so its follower leaves the row as it is."""
    run_id = secrets.token_hex(6)
    session.add(
        PipelineRun(
            id=run_id,
            pipeline_name="bare",
            backend="nowhere",
            phase=phase,
            workflow_name=f"bare-{run_id}",
            parameters={},
            manifest={},
            created_at=created_at,
        )
    )
    session.commit()
    return run_id


def execution_run(session: Session, phase: str, created_at: datetime = OLD) -> str:
    run_id = secrets.token_hex(6)
    session.add(
        Run(
            id=run_id,
            execution_name="bare",
            backend="local",
            phase=phase,
            spec={},
            manifest={},
            created_at=created_at,
        )
    )
    session.commit()
    return run_id


def test_old_finished_pipeline_runs_go_with_their_jobs_and_logs(
    client: TestClient, sessions: sessionmaker[Session], home: Path
) -> None:
    done = create(client, pipeline("done", "output('n', 7)\nprint('seven')"))
    slow = create(client, pipeline("slow", "import time\ntime.sleep(60)"))
    old_done = start(client, done["id"])
    recent_done = start(client, done["id"])
    running = start(client, slow["id"])
    for run_id in (old_done, recent_done):
        assert wait_final(client, run_id)["phase"] == "Succeeded"
    wait_job(client, running, "work", "Running")
    with sessions() as session:
        workflow = session.get_one(PipelineRun, old_done).workflow_name
        age(session, old_done, running)
        unfinished = {
            phase: bare_pipeline_run(session, phase) for phase in ("Pending", "Canceling")
        }
    files = home / "local" / "workflows" / workflow
    assert (files / "workflow.json").is_file()

    with sessions() as session:
        purged = purge(session, older_than_days=30, backends=service(client).backends)
    assert purged.pipeline_runs == [old_done] and purged.runs == []

    assert client.get(f"/api/v1/pipeline-runs/{old_done}", headers=AUTH).status_code == 404
    with sessions() as session:
        jobs_left = session.scalar(select(func.count()).where(PipelineRunJob.run_id == old_done))
        assert jobs_left == 0
        kept = set(session.scalars(select(PipelineRun.id)))
    assert kept == {recent_done, running, *unfinished.values()}
    assert not files.exists()  # the workflow's logs and state
    assert client.get(f"/api/v1/pipeline-runs/{running}", headers=AUTH).json()["phase"] == "Running"
    stopped = client.post(f"/api/v1/pipeline-runs/{running}/cancel?mode=terminate", headers=AUTH)
    assert stopped.status_code == 200
    wait_final(client, running)


def test_one_policy_for_both_kinds_and_a_retried_run_is_not_finished(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        old = {phase: bare_pipeline_run(session, phase) for phase in ("Failed", "Error", "Running")}
        young = bare_pipeline_run(session, "Failed", created_at=OLD + timedelta(days=20))
        runs = {phase: execution_run(session, phase) for phase in ("Failed", "Running")}
        # A Failed run set Running again by a retry: the delete re-checks the phase.
        session.execute(
            update(PipelineRun).where(PipelineRun.id == old["Error"]).values(phase="Running")
        )
        session.commit()
        purged = purge(session, older_than_days=30, now=datetime.now(UTC))
        assert purged.pipeline_runs == [old["Failed"]] and purged.runs == [runs["Failed"]]
        assert purged.total == 2
        left = set(session.scalars(select(PipelineRun.id)))
        assert left == {old["Error"], old["Running"], young}
        assert set(session.scalars(select(Run.id))) == {runs["Running"]}
        # The same policy, a shorter age: the younger one goes too.
        later = purge(session, older_than_days=10)
        assert later.pipeline_runs == [young] and later.runs == []


def test_gc_command_purges_both_kinds(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sessions() as session:
        bare_pipeline_run(session, "Succeeded")
        execution_run(session, "Succeeded")
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DROVER_HOME", str(settings.home))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["gc", "--older-than-days", "30"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "purged 1 runs and 1 pipeline runs older than 30 days" in result.output
