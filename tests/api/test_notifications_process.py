"""kill -9 of the real facade (``drover serve``) between a run event and its delivery: after a
restart the event is delivered, and processed exactly once by a receiver that deduplicates on
the idempotency key in the body."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.api.test_service_process import Server, _free_port
from tests.notifications.project import tiny_project, tiny_spec
from tests.notifications.receivers import http_receiver

SECRET = "whsec-process"


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _subscribe(client: httpx.Client, name: str, url: str) -> int:
    response = client.post(
        "/api/v1/notifications",
        json={
            "name": name,
            "events": ["run.finished"],
            "channel": {"type": "webhook", "url": url, "signing_secret": {"env": "HOOK_SECRET"}},
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_kill_9_between_event_and_delivery_delivers_exactly_once(
    database_url: str, home: Path, tmp_path: Path
) -> None:
    """Receiver A is down when the run ends; receiver B takes the request and holds it. The
    facade is killed while B holds it (its delivery transaction dies with it). After a restart
    A gets the event once, and B gets it again and recognises the key: processed once each."""
    server = Server(database_url, home)
    server.env.update(
        {
            "HOOK_SECRET": SECRET,
            "DROVER_NOTIFY_POLL_INTERVAL": "0.1",
            "DROVER_NOTIFY_BACKOFF_BASE": "0.2",
            "DROVER_NOTIFY_BACKOFF_MAX": "0.5",
        }
    )
    port_a = _free_port()
    release = threading.Event()
    try:
        with http_receiver(secret=SECRET, hold=release) as b:
            server.start()
            with server.client() as client:
                _subscribe(client, "down-receiver", f"http://127.0.0.1:{port_a}/webhook")
                _subscribe(client, "held-receiver", f"{b.url}/webhook")
                spec = tiny_spec(tiny_project(tmp_path), "tiny-kill")
                execution = client.post("/api/v1/executions", json=spec)
                assert execution.status_code == 201, execution.text
                run = client.post(f"/api/v1/executions/{execution.json()['id']}/run").json()
                key = f"run.finished/{run['id']}/1"
                _wait(lambda: b.arrived >= 1, 90, "the delivery to reach receiver B")
            server.kill()  # mid-delivery: B holds the request, nothing is committed
            release.set()  # B answers a dead socket, and has processed the key
            _wait(lambda: b.processed == [key], 10, "B to process the held request")
            with http_receiver(secret=SECRET, port=port_a) as a:
                server.start()
                _wait(lambda: a.processed == [key], 30, "A to get the event after the restart")
                _wait(lambda: len(b.requests) >= 2, 30, "B to get the event again")
                time.sleep(1.0)  # a doubled delivery would arrive now
                with server.client() as client:
                    log = client.get(f"/api/v1/notifications/deliveries?run_id={run['id']}")
                    assert log.status_code == 200, log.text
                    deliveries = log.json()["items"]
            assert [r.json["idempotency_key"] for r in a.requests] == [key]
            assert all(r.signature_ok for r in a.requests + b.requests)
            assert [r.json["idempotency_key"] for r in b.requests] == [key, key]
            assert b.processed == [key]  # the repeat was recognised, not processed again
            assert len(deliveries) == 2
            assert all(d["state"] == "delivered" for d in deliveries)
            # The attempt that died with the process left no row: one attempt each, delivered.
            assert all(d["attempts"][-1]["ok"] for d in deliveries)
    finally:
        release.set()
        server.stop()
