"""Notifications end to end in the facade, against real receivers on this machine: an HTTP
server that checks Drover's signatures and Slack's and Discord's shapes, and an SMTP server.

Events come from a real local run (the mirror's transitions) or are written to the outbox as
a transition would write them; the app's own delivery worker sends them."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from api.app import create_app
from api.database import get_engine, session_factory
from api.models import Delivery, OutboxEvent
from api.notifications.outbox import emit
from api.settings import Settings
from engine.notifications.events import Counts, Event, EventType, RunInfo, Verdict
from tests.api.conftest import AUTH
from tests.notifications.project import tiny_project, tiny_spec
from tests.notifications.receivers import HttpReceiver, http_receiver, smtp_server

SECRET = "whsec-test-1"


@pytest.fixture(scope="module")
def settings(database_url: str, home: Path) -> Settings:
    return Settings(
        home=home,
        database_url=database_url,
        admin_token="test-admin-token",
        poll_interval=0.1,
        scheduler=False,
        public_url="http://drover.test",
        notify_poll_interval=0.05,
        notify_backoff_base=0.05,
        notify_backoff_max=0.2,
        notify_breaker_threshold=5,
        notify_breaker_reset=2.0,  # the open window the breaker test looks into, under load
        notify_max_attempts=50,
        notify_rate=100.0,
        notify_burst=10.0,
        notify_timeout=5.0,
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver(secret=SECRET) as r:
        yield r


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch: pytest.MonkeyPatch, receiver: HttpReceiver) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TEST_SLACK_URL", f"{receiver.url}/slack/T000/B000/XXXX")
    monkeypatch.setenv("TEST_DISCORD_URL", f"{receiver.url}/discord/123/abc")


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def webhook(receiver: HttpReceiver, path: str = "/webhook") -> dict[str, Any]:
    return {
        "type": "webhook",
        "url": f"{receiver.url}{path}",
        "signing_secret": {"env": "TEST_WEBHOOK_SECRET"},
    }


def subscribe(
    client: TestClient, name: str, events: list[str], channel: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/notifications",
        json={"name": name, "events": events, "channel": channel, **extra},
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_real_run_emits_each_event_once_and_delivers_them_signed(
    client: TestClient, receiver: HttpReceiver, tmp_path: Path
) -> None:
    project = tiny_project(tmp_path)
    spec = tiny_spec(
        project,
        "tiny-notify",
        notify=[
            {
                "events": ["run.started", "group.finished", "run.finished", "scenario.flaky"],
                "channel": webhook(receiver, "/webhook/spec"),
            }
        ],
    )
    slack = subscribe(
        client,
        "team-slack",
        ["run.finished"],
        {"type": "slack", "url_from": {"env": "TEST_SLACK_URL"}},
        filter={"verdict": ["failed"]},
    )
    assert slack["channel"] == {"type": "slack", "url_from": {"env": "TEST_SLACK_URL"}}
    execution = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert execution.status_code == 201, execution.text
    started = client.post(f"/api/v1/executions/{execution.json()['id']}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]

    expected = {
        f"run.started/{run_id}/1",
        f"group.finished/{run_id}/1/main.smoke",
        f"group.finished/{run_id}/1/main.rest",
        f"run.finished/{run_id}/1",
        f"scenario.flaky/{run_id}/1/tests/test_tiny.py::test_flaky",
    }

    def delivered() -> set[str]:
        return {r.json["idempotency_key"] for r in receiver.ok("/webhook/spec")}

    try:
        wait_until(lambda: delivered() >= expected and receiver.ok("/slack"), 60, "deliveries")
    except AssertionError:
        run = client.get(f"/api/v1/runs/{run_id}", headers=AUTH).json()
        stored = client.get(f"/api/v1/notifications/events?run_id={run_id}", headers=AUTH)
        log = client.get(f"/api/v1/notifications/deliveries?run_id={run_id}", headers=AUTH)
        raise AssertionError(
            f"run {run['phase']} {run.get('message')}; received {sorted(delivered())}; "
            f"stored {stored.text[:3000]}; log {log.text[:3000]}"
        ) from None
    time.sleep(0.5)  # anything doubled would arrive now
    spec_requests = receiver.ok("/webhook/spec")
    keys = [r.json["idempotency_key"] for r in spec_requests]
    assert sorted(keys) == sorted(expected)  # each once, nothing else
    assert all(r.signature_ok for r in spec_requests)
    finished = next(r.json for r in spec_requests if r.json["type"] == "run.finished")
    assert finished["verdict"] == "failed"
    assert finished["counts"] == {"total": 3, "passed": 2, "failed": 1, "skipped": 0, "error": 0}
    assert finished["run"]["url"] == f"http://drover.test/api/v1/runs/{run_id}"
    assert finished["run"]["trigger"] == "manual" and finished["version"] == 1
    (message,) = [r.json for r in receiver.ok("/slack")]
    assert message["text"].startswith(f"❌ tiny-notify run {run_id} failed — 1 failed, 2 passed")

    log = client.get(f"/api/v1/notifications/deliveries?run_id={run_id}", headers=AUTH).json()
    assert log["total"] == 6
    assert all(d["state"] == "delivered" and d["attempts"][0]["ok"] for d in log["items"])
    assert {d["source"] for d in log["items"]} == {
        "execution:tiny-notify#0",
        f"notification:{slack['id']}",
    }
    events = client.get(f"/api/v1/notifications/events?run_id={run_id}", headers=AUTH).json()
    assert sorted(e["id"] for e in events["items"]) == sorted(expected)


def test_a_run_final_without_its_run_finished_is_announced_after_a_restart(
    client: TestClient, settings: Settings
) -> None:
    """As if the facade died between the transaction that made the run final and the one that
    recounts it with its run.finished: a restart's re-attach finds the run and announces it."""
    service = client.app.state.service  # type: ignore[attr-defined]
    sessions = service.sessions
    with sessions() as session:
        finished = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "run.finished")
        ).all()
        assert finished, "needs the real run of the test above"
        key, run_id = finished[0].key, finished[0].run_id
    with sessions() as session, session.begin():
        session.execute(delete(OutboxEvent).where(OutboxEvent.key == key))
    assert run_id in service.mirror.reattach()

    def announced() -> bool:  # stored again, and sent to its subscribers
        with sessions() as session:
            event = session.scalar(select(OutboxEvent).where(OutboxEvent.key == key))
            pending = select(Delivery.id).where(Delivery.state == "pending")
            return bool(event and event.dispatched and session.scalar(pending) is None)

    wait_until(announced, 30, "run.finished stored again")
    assert run_id not in service.mirror.reattach()  # announced: nothing left to do


def test_send_test_reaches_webhook_slack_discord_and_email(
    client: TestClient, receiver: HttpReceiver
) -> None:
    with smtp_server() as (port, mails):
        channels = {
            "hook": webhook(receiver, "/webhook/test"),
            "slack": {"type": "slack", "url_from": {"env": "TEST_SLACK_URL"}},
            "discord": {"type": "discord", "url_from": {"env": "TEST_DISCORD_URL"}},
            "mail": {
                "type": "email",
                "to": ["qa@example.com", "lead@example.com"],
                "from": "drover@example.com",
                "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
            },
        }
        results = {}
        for name, channel in channels.items():
            created = subscribe(client, f"test-{name}", ["run.finished"], channel)
            response = client.post(f"/api/v1/notifications/{created['id']}/test", headers=AUTH)
            assert response.status_code == 200, response.text
            results[name] = response.json()
        assert all(r["state"] == "delivered" for r in results.values()), results
        (mail_envelope, mail) = mails[-1]
    assert sorted(mail_envelope.rcpt_tos) == ["lead@example.com", "qa@example.com"]
    assert mail["Subject"].startswith("❌ test-mail run test0000 failed")
    assert mail.get_body("plain").get_content().startswith("❌ test-mail")
    html = mail.get_body("html").get_content()
    assert "<table>" in html and "http://drover.test/api/v1/runs/test0000" in html
    (hook,) = receiver.ok("/webhook/test")
    assert hook.signature_ok and hook.json["type"] == "run.finished"
    (discord,) = receiver.ok("/discord")
    assert discord.json["embeds"][0]["fields"][0] == {
        "name": "Failed",
        "value": "1",
        "inline": True,
    }
    attempt = results["slack"]["attempts"][0]
    assert attempt["http_status"] == 200 and attempt["latency_ms"] > 0
    assert attempt["response"] == "ok"


def _emit(settings: Settings, events: list[Event]) -> None:
    sessions = session_factory(get_engine(settings.database_url or ""))
    with sessions() as session, session.begin():
        for event in events:
            emit(session, event)


def _finished(key: str) -> Event:
    return Event(
        id=key,
        type=EventType.RUN_FINISHED,
        occurred_at=datetime.now(UTC),
        run=RunInfo(id=key[-8:], name="burst"),
        verdict=Verdict.PASSED,
        counts=Counts(total=1, passed=1),
    )


def test_breaker_opens_after_five_failures_then_everything_is_delivered(
    client: TestClient, settings: Settings
) -> None:
    with http_receiver(secret=SECRET) as down:
        down.refuse_all = True
        sub = subscribe(client, "flaky-receiver", ["run.finished"], webhook(down))
        _emit(settings, [_finished("run.finished/breaker/first")])
        wait_until(lambda: len(down.requests) >= 5, 10, "five failed attempts")
        _emit(settings, [_finished(f"run.finished/breaker/later-{i}") for i in range(10)])
        time.sleep(0.3)  # open: nothing goes to the receiver meanwhile
        assert len(down.requests) == 5
        log = client.get(f"/api/v1/notifications/{sub['id']}/deliveries", headers=AUTH).json()
        assert log["total"] == 11
        assert all(d["state"] == "pending" for d in log["items"])
        later = [d for d in log["items"] if "later" in d["event"]]
        assert all(d["attempts"] == [] for d in later)  # waiting costs no attempt
        down.refuse_all = False  # recovers; the half-open probe finds out
        wait_until(lambda: len(down.processed) == 11, 15, "all eleven delivered")
        time.sleep(0.3)
        assert sorted(down.processed) == sorted(
            ["run.finished/breaker/first", *(f"run.finished/breaker/later-{i}" for i in range(10))]
        )
        log = client.get(f"/api/v1/notifications/{sub['id']}/deliveries", headers=AUTH).json()
        first = next(d for d in log["items"] if d["event"].endswith("first"))
        statuses = [a["http_status"] for a in first["attempts"]]
        assert statuses[:5] == [503] * 5 and statuses[-1] == 200
        assert all(d["state"] == "delivered" for d in log["items"])
        client.delete(f"/api/v1/notifications/{sub['id']}", headers=AUTH)


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (
            {"events": ["run.finished"], "channel": {"type": "webhook", "url": "gopher://x/y"}},
            "body.channel.webhook.url",
            "http:// or https://",
        ),
        (
            {
                "events": ["run.finished"],
                "channel": {
                    "type": "email",
                    "to": ["qa-team.example.com"],
                    "from": "drover@example.com",
                    "smtp": {"host": "mail.example.com"},
                },
            },
            "body.channel.email.to.0",
            "not an email address",
        ),
        (
            {"events": ["run.exploded"], "channel": {"type": "webhook", "url": "http://x.io/"}},
            "body.events.0",
            "run.finished",
        ),
        (
            {
                "events": ["run.finished"],
                "channel": {"type": "slack", "url_from": {"env": "NOPE_X"}},
            },
            "channel.url_from.env",
            "NOPE_X is not set in the facade",
        ),
    ],
)
def test_bad_subscriptions_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str, says: str
) -> None:
    response = client.post("/api/v1/notifications", json={"name": "bad", **body}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert says in response.json()["detail"]


def test_bad_notify_in_an_execution_spec_is_422_naming_the_field(
    client: TestClient, tmp_path: Path
) -> None:
    spec = tiny_spec(
        tiny_project(tmp_path),
        "tiny-bad-notify",
        notify=[{"events": ["run.finished"], "channel": {"type": "webhook", "url": "file:///etc"}}],
    )
    response = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert response.status_code == 422, response.text
    assert "notify[0].channel" in response.text and "http:// or https://" in response.text


def test_secrets_are_never_returned(client: TestClient) -> None:
    sub = subscribe(
        client,
        "secretive",
        ["run.finished"],
        {"type": "discord", "url_from": {"env": "TEST_DISCORD_URL"}},
    )
    listed = client.get("/api/v1/notifications", headers=AUTH).text
    assert "/discord/123/abc" not in listed and "TEST_DISCORD_URL" in listed
    assert sub["channel"]["url_from"] == {"env": "TEST_DISCORD_URL"}


def test_rate_limit_holds_under_a_burst_of_1000_events(
    client: TestClient, settings: Settings
) -> None:
    """1,000 events at once to one destination: in every sliding window the receiver sees at
    most burst + rate * window requests (counted from its own timestamps), and all arrive."""
    rate, burst = settings.notify_rate, settings.notify_burst
    with http_receiver(secret=SECRET) as fast:
        sub = subscribe(client, "burst-receiver", ["run.finished"], webhook(fast))
        _emit(settings, [_finished(f"run.finished/burst/{i:04d}") for i in range(1000)])
        wait_until(lambda: len(fast.processed) >= 1000, 60, "1,000 deliveries")
        client.delete(f"/api/v1/notifications/{sub['id']}", headers=AUTH)
        stamps = sorted(r.at for r in fast.requests)
    assert len(stamps) == 1000 and len(set(fast.processed)) == 1000
    for window in (0.1, 0.5, 1.0):
        most = max(bisect.bisect_left(stamps, start + window) - i for i, start in enumerate(stamps))
        assert most <= burst + rate * window + 1, (window, most)


def test_retention_purges_old_events_but_never_a_pending_delivery(
    client: TestClient, settings: Settings
) -> None:
    from api.retention import purge

    with http_receiver(secret=SECRET) as down:
        down.refuse_all = True
        # scenario.flaky: an event no other subscription of this module wants
        sub = subscribe(client, "old-events", ["scenario.flaky"], webhook(down))
        flaky = [
            _finished(key).model_copy(update={"type": EventType.SCENARIO_FLAKY})
            for key in ("run.finished/old/sent", "run.finished/old/stuck")
        ]
        _emit(settings, flaky)
        sessions = session_factory(get_engine(settings.database_url or ""))
        wait_until(lambda: down.requests, 10, "a first attempt")
        down.refuse_all = False
        keys = ("run.finished/old/sent", "run.finished/old/stuck")

        def states() -> list[str]:
            with sessions() as session:
                return list(
                    session.scalars(
                        select(Delivery.state)
                        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                        .where(OutboxEvent.key.in_(keys))
                    )
                )

        wait_until(lambda: states() == ["delivered", "delivered"], 15, "both delivered")
        with sessions() as session, session.begin():
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.key.in_(keys))
                .values(created_at=datetime(2020, 1, 1, tzinfo=UTC))
            )
            stuck = select(OutboxEvent.id).where(OutboxEvent.key == keys[1]).scalar_subquery()
            session.execute(  # as if it were still being retried
                update(Delivery)
                .where(Delivery.event_id == stuck)
                .values(state="pending", next_attempt_at=datetime(2100, 1, 1, tzinfo=UTC))
            )
        with sessions() as session:
            purge(session, older_than_days=30)
            left = set(
                session.scalars(
                    select(OutboxEvent.key).where(OutboxEvent.key.like("run.finished/old/%"))
                )
            )
        assert left == {"run.finished/old/stuck"}
        client.delete(f"/api/v1/notifications/{sub['id']}", headers=AUTH)


def test_tool_jobs_and_deliveries_share_each_destinations_breaker(client: TestClient) -> None:
    """The worker's admit/settle, which tool job requests go through: five failures in a row
    close the destination for everyone until the breaker's timeout, then one probe goes."""
    from api.notifications.runtime import worker_of

    worker = worker_of(client.app.state.service)  # type: ignore[attr-defined]
    assert worker is not None
    destination = "webhook:http://shared.example:1"
    for _ in range(5):
        assert worker.admit(destination) == 0.0
        worker.settle(destination, ok=False)
    assert worker.admit(destination) > 0  # open
    wait_until(lambda: worker.admit(destination) == 0.0, 5, "the half-open probe")
    assert worker.admit(destination) > 0  # one probe at a time
    worker.settle(destination, ok=True)
    assert worker.admit(destination) == 0.0
