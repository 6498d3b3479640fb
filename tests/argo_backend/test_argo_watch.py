"""The watch converges on the server's final state despite drops, repeats, errors and gaps."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backends.argo import ArgoBackend, WatchState
from engine.backends.argo.watch import WATCH_FIELDS
from engine.backends.base import WorkflowEvent, is_newer
from engine.status import parse_workflow
from tests.argo_backend.conftest import settings_for
from tests.argo_backend.fake_argo import FakeArgo, StreamFaults

pytestmark = pytest.mark.timeout(60)  # a watch that never converges blocks forever

DROVER = {"app.kubernetes.io/managed-by": "drover", "drover.dev/run-id": "r"}


def _nodes(name: str, step: int) -> dict[str, Any]:
    return {
        f"{name}-{i}": {
            "id": f"{name}-{i}",
            "name": f"{name}.w({i})",
            "type": "Pod",
            "phase": "Succeeded" if i < step else "Running",
        }
        for i in range(3)
    }


def _workflow(name: str, step: int, labels: dict[str, str] = DROVER) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"entrypoint": "main", "templates": [{"name": "main"}]},
        "status": {"phase": "Running" if step < 3 else "Succeeded", "nodes": _nodes(name, step)},
    }


class Mirror:
    """The consumer: keeps the newest copy of each workflow, like the mirror does."""

    def __init__(self, events: Iterator[WorkflowEvent]) -> None:
        self.events = events
        self.state: dict[str, dict[str, Any]] = {}
        self.seen: list[WorkflowEvent] = []

    def consume_until(self, done: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        for event in self.events:
            self.seen.append(event)
            name = event.workflow["metadata"]["name"]
            if event.type == "DELETED":
                self.state.pop(name, None)
            else:
                self.state[name] = event.workflow
            if done():
                return
            assert time.monotonic() < deadline, "watch did not converge"


def _converged(mirror: Mirror, fake: FakeArgo) -> bool:
    final = {n: w for n, w in fake.final_state().items() if n != "foreign"}
    return set(mirror.state) == set(final) and all(
        _essential(mirror.state[n]) == _essential(final[n]) for n in final
    )


def _essential(workflow: dict[str, Any]) -> tuple[Any, Any]:
    status = workflow.get("status") or {}
    return status.get("phase"), status.get("nodes")


def _evolve(fake: FakeArgo, names: list[str], pause: float = 0.002) -> None:
    for step in range(1, 4):
        for name in names:
            fake.update_status(name, **_workflow(name, step)["status"])
            time.sleep(pause)


@pytest.fixture
def fast_backend(argo: tuple[FakeArgo, str], tmp_path: Path) -> Iterator[ArgoBackend]:
    with ArgoBackend(settings_for(argo[1], tmp_path, resync_interval=0.5)) as backend:
        yield backend


@pytest.mark.parametrize(
    "faults",
    [
        StreamFaults(),
        StreamFaults(drop_every=3),
        StreamFaults(repeat_every=2),
        StreamFaults(error_after=4),
        StreamFaults(end_after=5),
        StreamFaults(drop_every=4, repeat_every=3, end_after=7),
    ],
    ids=["clean", "drops", "repeats", "error-frame", "ends", "everything"],
)
def test_faulty_stream_still_reaches_the_final_state(
    fast_backend: ArgoBackend, argo: tuple[FakeArgo, str], faults: StreamFaults
) -> None:
    fake, _ = argo
    names = [f"run-{i}" for i in range(4)]
    fake.put_workflow(_workflow("run-0", 0), compressed=True)
    fake.put_workflow(_workflow("run-1", 0), offloaded=True)
    fake.put_workflow(_workflow("run-2", 0))
    fake.put_workflow(_workflow("foreign", 0, labels={"team": "other"}))
    fake.stream_faults = faults
    mirror = Mirror(fast_backend.watch())
    mirror.consume_until(lambda: len(mirror.state) == 3)

    worker = threading.Thread(target=_evolve, args=(fake, names[:3]))
    worker.start()
    fake.put_workflow(_workflow("run-3", 0))
    worker.join()
    fake.remove_workflow("run-2")
    fake.put_workflow(_workflow("run-3", 3))

    mirror.consume_until(lambda: _converged(mirror, fake))
    assert "foreign" not in mirror.state
    assert mirror.state["run-0"]["status"]["nodes"] == _nodes("run-0", 3)  # compressed, decoded
    assert mirror.state["run-1"]["status"]["nodes"] == _nodes("run-1", 3)  # offloaded, fetched
    # Repeats are never delivered twice in a row for the same version.
    versions = [
        (e.type, e.workflow["metadata"]["name"], e.workflow["metadata"].get("resourceVersion"))
        for e in mirror.seen
    ]
    assert len(versions) == len(set(versions))


def test_watch_asks_for_small_events_and_resumes_from_the_last_version(
    fast_backend: ArgoBackend, argo: tuple[FakeArgo, str]
) -> None:
    fake, _ = argo
    fake.put_workflow(_workflow("run-0", 0))
    fake.stream_faults = StreamFaults(end_after=1)
    mirror = Mirror(fast_backend.watch())
    mirror.consume_until(lambda: "run-0" in mirror.state)
    fake.update_status("run-0", phase="Running")
    fake.update_status("run-0", phase="Succeeded")
    mirror.consume_until(lambda: mirror.state["run-0"]["status"]["phase"] == "Succeeded")
    assert mirror.seen[-1].workflow.get("spec", {}) == {}  # fields= left the spec out
    connections = fake.watch_connections
    assert connections[0]["fields"] == [WATCH_FIELDS]
    assert connections[0]["listOptions.labelSelector"] == ["app.kubernetes.io/managed-by=drover"]
    resumed = [int(c["listOptions.resourceVersion"][0]) for c in connections]
    assert resumed == sorted(resumed) and resumed[-1] > resumed[0]


def test_a_suspended_workflow_is_seen_suspended_through_the_watch(
    fast_backend: ArgoBackend, argo: tuple[FakeArgo, str]
) -> None:
    """The one field of the spec the run's state reads comes through ``fields=``: suspended
    in the Argo UI, the run shows suspended, and resumed, no longer."""
    fake, _ = argo
    fake.put_workflow(_workflow("run-0", 1))
    mirror = Mirror(fast_backend.watch())
    mirror.consume_until(lambda: "run-0" in mirror.state)
    assert parse_workflow(mirror.state["run-0"]).suspended is False
    fast_backend.suspend("run-0")
    mirror.consume_until(lambda: parse_workflow(mirror.state["run-0"]).suspended)
    assert set(mirror.state["run-0"]["spec"]) == {"suspend"}
    fast_backend.resume("run-0")
    mirror.consume_until(lambda: not parse_workflow(mirror.state["run-0"]).suspended)


def test_resync_after_a_long_gap_finds_everything(
    argo: tuple[FakeArgo, str], tmp_path: Path
) -> None:
    """The consumer stalls for 10 minutes; meanwhile history is compacted and runs come and go."""
    fake, _ = argo
    now = [0.0]
    settings = settings_for(argo[1], tmp_path, resync_interval=300.0)
    with ArgoBackend(settings, clock=lambda: now[0]) as backend:
        for i in range(3):
            fake.put_workflow(_workflow(f"run-{i}", 0))
        mirror = Mirror(backend.watch())
        mirror.consume_until(lambda: len(mirror.state) == 3)

        now[0] += 600.0  # the gap
        for i in range(3, 8):
            fake.put_workflow(_workflow(f"run-{i}", 3))
        _evolve(fake, ["run-0", "run-1"], pause=0)
        fake.remove_workflow("run-2")
        fake.compact()  # the stream breaks; its resourceVersion is now too old

        mirror.consume_until(lambda: _converged(mirror, fake))
        assert set(mirror.state) == {"run-0", "run-1", *(f"run-{i}" for i in range(3, 8))}
        assert any(
            e.type == "DELETED" and e.workflow["metadata"]["name"] == "run-2" for e in mirror.seen
        )


def test_expired_version_on_reconnect_triggers_a_relist(
    fast_backend: ArgoBackend, argo: tuple[FakeArgo, str]
) -> None:
    fake, _ = argo
    fake.put_workflow(_workflow("run-0", 0))
    watcher = fast_backend.watcher()
    mirror = Mirror(iter(watcher))
    mirror.consume_until(lambda: "run-0" in mirror.state)
    fake.put_workflow(_workflow("run-0", 3))
    fake.compact()
    mirror.consume_until(lambda: _converged(mirror, fake))
    lists = [p for m, p, q, _ in fake.requests if p == "/api/v1/workflows/drover"]
    assert len(lists) >= 2


def test_watch_state_rules() -> None:
    state = WatchState()
    wf = {"metadata": {"name": "a", "resourceVersion": "10"}}
    assert state.accept("ADDED", wf) == WorkflowEvent("ADDED", wf)
    assert state.accept("MODIFIED", wf) is None  # repeat
    old = {"metadata": {"name": "a", "resourceVersion": "9"}}
    assert state.accept("MODIFIED", old) is None  # stale
    assert state.accept("BOOKMARK", {"metadata": {"name": "a", "resourceVersion": "11"}}) is None
    newer = {"metadata": {"name": "a", "resourceVersion": "12"}}
    assert state.accept("MODIFIED", newer) is not None
    events = state.resync([{"metadata": {"name": "b", "resourceVersion": "13"}}], "ns")
    assert [(e.type, e.workflow["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    assert is_newer("10", "9") and not is_newer("9", "10") and is_newer("x", "y")
