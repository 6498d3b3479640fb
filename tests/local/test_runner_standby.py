"""A runner standing by (``LocalBackend.keep_runner_ready``, the local service's): it runs the
next workflow as a runner started for it would, and is passed over when it cannot."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from engine.backends.local import LocalBackend
from tests.local.conftest import nodes_by_name, shell_template, stdout_of, workflow_manifest


def _ended(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _submit(backend: LocalBackend) -> str:
    # Long enough to look at the runner while it runs.
    pod = shell_template("main", 'sleep 1; echo "seen: ${DROVER_STANDBY_PROBE:-unset}"')
    return backend.submit(workflow_manifest([pod]))


def _finished(backend: LocalBackend, name: str) -> str:
    backend.wait(name, 60)
    workflow = backend.get(name)
    assert workflow["status"]["phase"] == "Succeeded", workflow["status"]
    return stdout_of(backend, nodes_by_name(workflow)[name])


def test_the_runner_standing_by_runs_the_next_workflow_as_its_own_runner(
    backend: LocalBackend,
) -> None:
    standby = backend.keep_runner_ready()
    assert backend.keep_runner_ready() == standby  # one at a time

    name = _submit(backend)
    assert int(backend.store.pid_path(name).read_text()) == standby
    directory = backend.store.workflow_dir(name)
    # Where a runner started for the workflow works, and writes its output, once it took it.
    deadline = time.monotonic() + 15
    while os.readlink(f"/proc/{standby}/cwd") != str(directory):
        assert time.monotonic() < deadline, "the runner standing by never took the workflow"
        time.sleep(0.02)
    assert os.readlink(f"/proc/{standby}/fd/1") == str(directory / "runner.log")
    assert os.readlink(f"/proc/{standby}/fd/2") == str(directory / "runner.log")
    assert _finished(backend, name) == "seen: unset"
    assert _ended(standby)

    # The next workflow has none standing by until one is asked for: it starts its own.
    second = _submit(backend)
    assert int(backend.store.pid_path(second).read_text()) != standby
    _finished(backend, second)


def test_a_runner_standing_by_under_another_environment_is_stopped_unused(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    standby = backend.keep_runner_ready()
    monkeypatch.setenv("DROVER_STANDBY_PROBE", "set after it started")

    name = _submit(backend)
    assert int(backend.store.pid_path(name).read_text()) != standby
    assert _ended(standby)
    assert _finished(backend, name) == "seen: set after it started"


def test_a_runner_standing_by_that_is_gone_is_passed_over(backend: LocalBackend) -> None:
    standby = backend.keep_runner_ready()
    os.kill(standby, signal.SIGKILL)
    assert _ended(standby)

    name = _submit(backend)
    assert int(backend.store.pid_path(name).read_text()) != standby
    _finished(backend, name)
    assert backend.keep_runner_ready() != standby  # a new one
