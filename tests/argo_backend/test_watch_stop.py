"""Stopping ends the Argo watch at once: the facade's shutdown leaves no watch thread behind.

Argo's ``workflow-events`` stream is quiet between events: the server sends its headers at
once and then only events, until the watch's ``listOptions.timeoutSeconds`` ends it
(server/workflow/workflow_server.go, ``workflowServer.WatchWorkflows``: ``ws.SendHeader``, then
a loop over ``watch.ResultChan()``). So a watcher sits in a read for up to the resync
interval, and between reconnects in a pause of up to 30 s; ``stop()`` must cut both short. The
fake Argo's stream is as quiet (``FakeArgo._op_WatchWorkflows``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from engine.backends.argo import ArgoBackend
from engine.backends.base import StoppableWatch, WorkflowEvent
from tests.api.conftest import ADMIN, database_url  # noqa: F401 (fixture)
from tests.argo_backend.conftest import settings_for
from tests.argo_backend.fake_argo import FakeArgo
from tests.argo_backend.http_stub import StubServer

pytestmark = pytest.mark.timeout(60)


def _consume(events: StoppableWatch) -> tuple[threading.Thread, list[WorkflowEvent]]:
    seen: list[WorkflowEvent] = []

    def run() -> None:
        seen.extend(events)  # type: ignore[call-overload]

    thread = threading.Thread(target=run, name="test-watch", daemon=True)
    thread.start()
    return thread, seen


def _wait_for(condition: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(400):
        if condition():
            return
        done.wait(0.025)
    raise AssertionError("condition not met within 10 s")


def test_stop_ends_a_watch_waiting_in_a_quiet_stream(
    argo: tuple[FakeArgo, str], tmp_path: Path
) -> None:
    fake, url = argo
    # Resync once an hour: the stream's read timeout is an hour and a half.
    settings = settings_for(url, tmp_path, resync_interval=3600.0)
    with ArgoBackend(settings) as backend:
        watch = backend.watch()
        assert isinstance(watch, StoppableWatch)
        thread, _ = _consume(watch)
        _wait_for(lambda: len(fake.watch_connections) == 1)  # listed, then reading the stream
        watch.stop()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the watch still reads its stream after stop()"
        assert len(fake.watch_connections) == 1  # ended, not reconnected


def test_stop_ends_a_watch_pausing_before_a_reconnect(tmp_path: Path) -> None:
    fake = FakeArgo("drover")
    with StubServer(fake) as server:
        url = server.url
    # The server is gone: every connect is refused and the watcher pauses 1, 2, 4 ... 30 s.
    with ArgoBackend(settings_for(url, tmp_path)) as backend:
        watch = backend.watch()
        thread, seen = _consume(watch)
        _wait_for(lambda: watch._failures >= 1)  # type: ignore[attr-defined]
        watch.stop()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the watch still pauses to reconnect after stop()"
        assert seen == []


def _watch_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.name.startswith("drover-watch-") and t.is_alive()
    ]


def test_the_facade_stops_its_watch_threads_when_its_lifespan_ends(
    argo: tuple[FakeArgo, str], argo_settings: Callable[..., Settings]
) -> None:
    fake, _ = argo
    # The stream's read timeout: an hour and a half.
    settings = argo_settings(argo_resync_seconds=3600)
    before = set(threading.enumerate())
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        _wait_for(lambda: len(fake.watch_connections) >= 1)
        watching = _watch_threads(before)
        assert watching, "the facade on Argo watches its workflows"
    # The lifespan ended (the mirror's stop joined them): no watch thread of this app is left
    # reading the quiet stream, nor pausing to reconnect.
    assert [t.name for t in watching if t.is_alive()] == []
    connections = len(fake.watch_connections)
    threading.Event().wait(0.3)
    assert len(fake.watch_connections) == connections  # nothing reconnects afterwards
