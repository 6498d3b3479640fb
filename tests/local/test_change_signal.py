"""A follower of a local workflow wakes when the runner rewrites it, not a poll interval later.

``drover run`` follows its run until the workflow is final; the local runner rewrites
``workflow.json`` atomically at every change, so a stat of it tells the follower when to read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.backends.base import SignalsChanges
from engine.backends.local import LocalBackend

TIMEOUT = 60.0
"""Far longer than any wait below: returning before it means the change was noticed."""


def _workflow(name: str, phase: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {}, "status": {"phase": phase}}


def _wait_while(write: Callable[[], None], after: float, wait: Callable[[], object]) -> float:
    """Seconds ``wait()`` took while ``write()`` ran ``after`` seconds into it."""
    writer = threading.Timer(after, write)
    started = time.monotonic()
    writer.start()
    try:
        wait()
    finally:
        writer.join()
    return time.monotonic() - started


def test_a_rewrite_of_the_workflow_ends_the_wait(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    assert isinstance(backend, SignalsChanges)
    backend.store.create(_workflow("w", "Running"))
    changed: list[bool] = []
    waited = _wait_while(
        lambda: backend.store.save(_workflow("w", "Succeeded")),
        0.2,
        lambda: changed.append(backend.wait_for_change("w", TIMEOUT)),
    )
    assert waited < TIMEOUT and changed == [True]
    assert backend.get("w")["status"]["phase"] == "Succeeded"


def test_a_change_before_the_least_wait_still_ends_it(tmp_path: Path) -> None:
    # The follower asks for a least wait (a few syncs per interval at most); a change made
    # during it is not missed.
    backend = LocalBackend(tmp_path)
    backend.store.create(_workflow("w", "Running"))
    waited = _wait_while(
        lambda: backend.store.save(_workflow("w", "Succeeded")),
        0.05,
        lambda: backend.wait_for_change("w", TIMEOUT, at_least=0.3),
    )
    assert 0.3 <= waited < TIMEOUT


def test_without_a_change_it_waits_out_its_timeout(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    backend.store.create(_workflow("w", "Running"))
    started = time.monotonic()
    assert backend.wait_for_change("w", 0.3) is False
    assert time.monotonic() - started >= 0.3


def test_a_workflow_that_is_not_there_yet_is_waited_for(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    waited = _wait_while(
        lambda: backend.store.create(_workflow("w", "Pending")),
        0.2,
        lambda: backend.wait_for_change("w", TIMEOUT),
    )
    assert waited < TIMEOUT


def test_a_change_since_the_followers_last_read_ends_the_wait_at_once(tmp_path: Path) -> None:
    # The follower read the workflow, was busy with it (ingesting a worker's results) while the
    # runner wrote the next change, then waits: that change must not wait for a later one.
    backend = LocalBackend(tmp_path)
    # Final phases: with no runner alive, get() would mark a running workflow as an Error.
    backend.store.create(_workflow("w", "Failed"))
    assert backend.get("w")["status"]["phase"] == "Failed"
    backend.store.save(_workflow("w", "Succeeded"))
    started = time.monotonic()
    backend.wait_for_change("w", TIMEOUT)
    assert time.monotonic() - started < TIMEOUT

    # Another thread's read is its own: this thread still has the change to see.
    backend.get("w")
    backend.store.save(_workflow("w", "Error"))
    reader = threading.Thread(target=backend.get, args=("w",))
    reader.start()
    reader.join()
    started = time.monotonic()
    backend.wait_for_change("w", TIMEOUT)
    assert time.monotonic() - started < TIMEOUT


def test_a_follower_calls_on_state_while_it_waits_and_reads_again_after_the_resync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # drover run's follower: an unchanged workflow is not read again every poll interval (a
    # read of the database and the workflow, CPU the workers need), but its on_state still
    # runs (Ctrl-C, the progress view), and a read comes after the resync period regardless.
    from api.mirror import executions

    monkeypatch.setattr(executions, "IDLE_RESYNC_SECONDS", 0.5)
    backend = LocalBackend(tmp_path)
    backend.store.create(_workflow("w", "Failed"))  # final: no runner is looked for
    backend.get("w")
    state = SimpleNamespace(name="w")
    calls: list[float] = []
    started = time.monotonic()
    executions._wait_for_change(backend, state, 0.05, lambda _: calls.append(1))  # type: ignore[arg-type]
    assert time.monotonic() - started >= 0.5 and len(calls) >= 2

    calls.clear()
    monkeypatch.setattr(executions, "IDLE_RESYNC_SECONDS", TIMEOUT)
    waited = _wait_while(
        lambda: backend.store.save(_workflow("w", "Succeeded")),
        0.2,
        lambda: executions._wait_for_change(backend, state, 0.05, lambda _: calls.append(1)),  # type: ignore[arg-type]
    )
    assert waited < TIMEOUT and calls  # woken by the change
