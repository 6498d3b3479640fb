"""Run events on the Argo backend: the same mirror transitions as locally, driven here by the
fake Argo Server's watch events (swagger-checked), store each event once and deliver it with
the link to the workflow in the Argo UI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import OutboxEvent
from tests.api.conftest import AUTH, database_url, postgres_url  # noqa: F401
from tests.argo_backend.test_service_argo import (  # noqa: F401 (fixtures)
    ArtifactArgo,
    _finish,
    _sessions,
    _shop_execution,
    _workers,
    argo,
    client,
)
from tests.notifications.receivers import HttpReceiver, http_receiver


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        monkeypatch.setenv("ARGO_TEST_SLACK_URL", f"{r.url}/slack/T/B/argo")
        yield r


def _events(test_client: TestClient, run_id: str) -> list[str]:
    with _sessions(test_client)() as session:
        return sorted(session.scalars(select(OutboxEvent.key).where(OutboxEvent.run_id == run_id)))


def _eventually(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_watch_events_emit_each_run_event_once_with_the_argo_link(
    client: TestClient,  # noqa: F811
    argo: tuple[ArtifactArgo, str],  # noqa: F811
    receiver: HttpReceiver,
) -> None:
    fake, _ = argo
    created = client.post(
        "/api/v1/notifications",
        json={
            "name": "argo-slack",
            "events": ["run.finished"],
            "channel": {"type": "slack", "url_from": {"env": "ARGO_TEST_SLACK_URL"}},
        },
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    run = client.post(f"/api/v1/executions/{_shop_execution(client)}/run", headers=AUTH).json()
    workers = _workers(client, run["id"])
    _finish(fake, run["workflow_name"], workers, failing=0)
    (message,) = _eventually(lambda: receiver.ok("/slack"))
    groups = sorted({group for group, _ in workers})
    assert _events(client, run["id"]) == sorted(
        [
            f"run.started/{run['id']}/1",
            f"run.finished/{run['id']}/1",
            *(f"group.finished/{run['id']}/1/{g}" for g in groups),
        ]
    )
    assert message.json["text"].startswith(f"❌ {run['execution_name']} run {run['id']} failed")
    links = [e["url"] for e in message.json["blocks"][-1]["elements"]]
    assert links[1] == run["ui_url"]  # the Argo UI, beside the run page
    # The resync re-reads the same final workflow: nothing new is stored or sent.
    client.app.state.service.mirror.sync(run["id"])  # type: ignore[attr-defined]
    time.sleep(0.5)
    assert len(receiver.ok("/slack")) == 1


def test_a_refused_submission_is_run_failed_to_start(
    client: TestClient,  # noqa: F811
    argo: tuple[ArtifactArgo, str],  # noqa: F811
    receiver: HttpReceiver,
) -> None:
    fake, _ = argo
    created = client.post(
        "/api/v1/notifications",
        json={
            "name": "argo-refused",
            "events": ["run.failed_to_start"],
            "channel": {"type": "slack", "url_from": {"env": "ARGO_TEST_SLACK_URL"}},
        },
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    execution_id = _shop_execution(client)
    fake.fail_next.append(403)  # the Argo Server refuses the create
    started = client.post(f"/api/v1/executions/{execution_id}/run", headers=AUTH)
    assert started.status_code >= 400
    (message,) = _eventually(lambda: receiver.ok("/slack"))
    assert "failed to start: submit failed" in message.json["text"]
    with _sessions(client)() as session:
        (event,) = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "run.failed_to_start")
        )
    assert event.payload["run"]["phase"] == "Error" and event.payload["run"]["backend"] == "argo"
