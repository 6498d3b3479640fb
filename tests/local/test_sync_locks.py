"""Mutexes shared by the workflows of the machine (engine/backends/local/sync_locks.py): one
runner's workflow waits for another's, and a lock whose holder's runner died is free again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from engine.backends.local import LocalBackend
from tests.local.conftest import shell_template, workflow_manifest


def _mutexed(script: str, **spec: Any) -> dict[str, Any]:
    return workflow_manifest(
        [shell_template("main", script)], synchronization={"mutex": {"name": "deploy"}}, **spec
    )


def _until(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_workflow_waits_pending_for_the_first_ones_mutex(backend: LocalBackend) -> None:
    first = backend.submit(_mutexed("sleep 1"))
    _until(lambda: backend.get(first)["status"].get("phase") == "Running")
    second = backend.submit(_mutexed("true"))
    _until(lambda: backend.get(second)["status"].get("phase") == "Pending")
    waiting = backend.get(second)["status"]
    assert waiting["message"] == "Waiting for default/Mutex/deploy lock. Lock status: 0/1"
    assert waiting["synchronization"]["mutex"]["waiting"] == [
        {"mutex": "default/Mutex/deploy", "holder": f"default/{first}"}
    ]
    assert backend.wait(first, timeout=30)["status"]["phase"] == "Succeeded"
    done = backend.wait(second, timeout=30)
    assert done["status"]["phase"] == "Succeeded"
    assert "synchronization" not in done["status"]  # ReleaseAll


def test_a_dead_runners_mutex_is_free_again(backend: LocalBackend, tmp_path: Path) -> None:
    # The first workflow's pod waits for the gate, in a directory mounted into it (a pod sees
    # only its volumes), and its runner is killed.
    gate = tmp_path / "gate"
    gate.mkdir()
    waiting = _mutexed(
        "while [ ! -e /gate/open ]; do sleep 0.05; done",
        volumes=[{"name": "gate", "hostPath": {"path": str(gate)}}],
    )
    waiting["spec"]["templates"][0]["container"]["volumeMounts"] = [
        {"name": "gate", "mountPath": "/gate"}
    ]
    first = backend.submit(waiting)
    _until(lambda: backend.get(first)["status"].get("phase") == "Running")
    pid = backend.store.runner_pid(first)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    try:
        second = backend.submit(_mutexed("true"))
        assert backend.wait(second, timeout=30)["status"]["phase"] == "Succeeded"
    finally:
        (gate / "open").touch()  # the orphaned pod ends (a pod outlives its killed runner)
