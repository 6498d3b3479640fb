"""Control from other processes: retry, terminate, stop, kill the runner; CRD validity."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.retry import retry_workflow
from engine.errors import Conflict
from tests.local.conftest import (
    ARGO,
    nodes_by_name,
    shell_template,
    stdout_of,
    workflow_manifest,
)


def _wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids_with_marker(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _flaky_dag(flag: Path) -> dict[str, Any]:
    """A diamond whose C fails until ``flag`` exists."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "flaky-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "A", "template": "ok"},
                            {"name": "B", "template": "ok", "depends": "A"},
                            {"name": "C", "template": "flaky", "depends": "A"},
                            {"name": "D", "template": "ok", "depends": "B && C"},
                        ]
                    },
                },
                {
                    "name": "ok",
                    "container": {
                        "image": "alpine",
                        "command": ["sh", "-c", "echo ran-$ARGO_NODE_ID"],
                    },
                },
                {
                    "name": "flaky",
                    "container": {
                        "image": "alpine",
                        "command": ["test", "-e", f"/flags/{flag.name}"],
                        "volumeMounts": [{"name": "flags", "mountPath": "/flags"}],
                    },
                },
            ],
            "volumes": [{"name": "flags", "hostPath": {"path": str(flag.parent)}}],
        },
    }


def test_retry_reruns_only_failed_nodes(backend: LocalBackend, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    first = backend.run(_flaky_dag(flag))
    name = first["metadata"]["name"]
    assert first["status"]["phase"] == "Failed"
    before = nodes_by_name(first)
    assert before[f"{name}.D"]["phase"] == "Omitted"
    flag.write_text("now C passes")
    backend.retry(name, wait=True)
    after = backend.get(name)
    nodes = nodes_by_name(after)
    assert after["status"]["phase"] == "Succeeded"
    # As createNewRetryWorkflow (workflow/util/util.go): the workflow starts again, unfinished.
    reset = retry_workflow(first, "2030-01-01T00:00:00Z")["status"]
    assert (reset["startedAt"], reset["finishedAt"]) == ("2030-01-01T00:00:00Z", None)
    for task in ("A", "B"):  # kept: same start time, ran once
        assert nodes[f"{name}.{task}"]["startedAt"] == before[f"{name}.{task}"]["startedAt"]
        log = backend.store.log_path(name, nodes[f"{name}.{task}"]["id"]).read_text()
        assert log.count("ran-") == 1
    assert nodes[f"{name}.C"]["phase"] == "Succeeded"
    assert nodes[f"{name}.D"]["phase"] == "Succeeded"


def test_retry_keeps_a_failed_task_whose_dependents_went_on_and_succeeded(
    backend: LocalBackend,
) -> None:
    """``FormulateRetryWorkflow`` (workflow/util/util.go) resets a failed pod only when no node
    below it succeeded (``isDescendantNodeSucceeded``): ``a`` failed, ``b`` ran after it
    (``continueOn``) and succeeded, so only ``c`` runs again; the reset DAG starts again."""
    tasks = [
        {"name": "a", "template": "fail", "continueOn": {"failed": True}},
        {"name": "b", "template": "ok", "dependencies": ["a"]},
        {"name": "c", "template": "fail"},
    ]
    fail, ok = shell_template("fail", "exit 1"), shell_template("ok", "exit 0")
    first = backend.run(workflow_manifest([{"name": "main", "dag": {"tasks": tasks}}, fail, ok]))
    name = first["metadata"]["name"]
    assert first["status"]["phase"] == "Failed"
    reset = nodes_by_name(retry_workflow(first, "2030-01-01T00:00:00Z"))
    assert reset[f"{name}.a"]["phase"] == "Failed"  # kept as it was
    assert reset[f"{name}.b"]["phase"] == "Succeeded"
    assert f"{name}.c" not in reset  # runs again
    assert (reset[name]["phase"], reset[name]["startedAt"]) == ("Running", "2030-01-01T00:00:00Z")


class _ReaderBeforeEachRunner(LocalBackend):
    """Reads a workflow just before its runner process starts, as the service's mirror or
    ``drover list`` in another thread or process may."""

    phases_seen: list[str]

    def _spawn_runner(self, name: str, *, started_like: str | None = None) -> None:
        self.phases_seen.append(self.get(name)["status"].get("phase", ""))
        super()._spawn_runner(name, started_like=started_like)


def test_a_reader_before_the_runner_starts_does_not_mark_the_workflow_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Submit, retry and resubmit each leave a runnable workflow without a runner for a moment
    (under load, tens of milliseconds): a read then must not take it for one whose runner died
    and mark it Error, as it once did to pipeline runs of the service's tests."""
    monkeypatch.setenv("DROVER_HOME", str(tmp_path / "home"))
    backend = _ReaderBeforeEachRunner(tmp_path / "home")
    backend.phases_seen = []
    flag = tmp_path / "flag"
    name = backend.submit(_flaky_dag(flag), wait=True)
    assert backend.get(name)["status"]["phase"] == "Failed"
    flag.write_text("now C passes")
    backend.retry(name, wait=True)
    assert backend.get(name)["status"]["phase"] == "Succeeded"
    again = backend.resubmit(name, wait=True)
    assert backend.get(again)["status"]["phase"] == "Succeeded"
    assert "Error" not in backend.phases_seen and len(backend.phases_seen) == 3


def test_retry_refuses_a_succeeded_workflow(backend: LocalBackend) -> None:
    wf = backend.run(
        {
            "metadata": {"name": "ok"},
            "spec": {
                "entrypoint": "t",
                "templates": [{"name": "t", "container": {"image": "alpine", "command": ["true"]}}],
            },
        }
    )
    with pytest.raises(Conflict):
        backend.retry(wf["metadata"]["name"])


def _sleepers(marker: str, exit_handler: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "entrypoint": "fan",
        "templates": [
            {
                "name": "fan",
                "steps": [[{"name": "sleep", "template": "sleep", "withSequence": {"count": "3"}}]],
            },
            {
                "name": "sleep",
                "container": {"image": "alpine", "command": ["sh", "-c", f"sleep 300 # {marker}"]},
            },
            {"name": "bye", "container": {"image": "alpine", "command": ["echo", "bye"]}},
        ],
    }
    if exit_handler:
        spec["onExit"] = "bye"
    return {"metadata": {"generateName": "sleepers-"}, "spec": spec}


@pytest.mark.parametrize(("action", "exit_handler_runs"), [("terminate", False), ("stop", True)])
def test_terminate_and_stop_leave_no_orphans(
    backend: LocalBackend, action: str, exit_handler_runs: bool
) -> None:
    marker = f"drover-orphan-check-{action}-{os.getpid()}"
    name = backend.submit(_sleepers(marker, exit_handler=True))
    _wait_for(lambda: len(_pids_with_marker(marker)) >= 3)
    getattr(backend, action)(name)
    wf = backend.wait(name, timeout=20)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == f"Stopped with strategy '{action.capitalize()}'"
    _wait_for(lambda: not _pids_with_marker(marker), timeout=5)
    nodes = nodes_by_name(wf)
    pods = [n for n in nodes.values() if n["type"] == "Pod" and "onExit" not in n["name"]]
    assert len(pods) == 3 and all(p["phase"] == "Failed" for p in pods)
    assert (f"{name}.onExit" in nodes) is exit_handler_runs


def test_killed_runner_leaves_persisted_state(backend: LocalBackend) -> None:
    marker = f"drover-killed-runner-{os.getpid()}"
    name = backend.submit(_sleepers(marker, exit_handler=False))
    _wait_for(lambda: len(_pids_with_marker(marker)) >= 3)
    _wait_for(lambda: backend.store.load(name)["status"].get("progress") == "0/3")
    pid = backend.store.runner_pid(name)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_for(lambda: not _alive(pid))
    wf = backend.get(name)  # another "process" view: only the state dir
    assert wf["status"]["phase"] == "Error"
    assert "runner process" in wf["status"]["message"]
    assert len([n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]) == 3

    # The pods outlive their killed runner (process runtime semantics); clean them up, again
    # until none is left: a listed process may exit, or lead no group of its own, by the time
    # we signal it, and one a pod was forking meanwhile is listed only later.
    def strays_gone() -> bool:
        strays = _pids_with_marker(marker)
        for stray in strays:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(stray), signal.SIGKILL)
        return not strays

    _wait_for(strays_gone)


def test_suspend_blocks_new_nodes_until_resume(backend: LocalBackend, tmp_path: Path) -> None:
    manifest = {
        "metadata": {"generateName": "susp-"},
        "spec": {
            "entrypoint": "s",
            "templates": [
                {
                    "name": "s",
                    "steps": [
                        [{"name": "a", "template": "slow"}],
                        [{"name": "b", "template": "slow"}],
                    ],
                },
                {"name": "slow", "container": {"image": "alpine", "command": ["sleep", "0.5"]}},
            ],
        },
    }
    name = backend.submit(manifest)
    _wait_for(lambda: f"{name}[0].a" in nodes_by_name(backend.get(name)))
    backend.suspend(name)
    time.sleep(1.2)
    nodes = nodes_by_name(backend.get(name))
    assert nodes[f"{name}[0].a"]["phase"] == "Succeeded"
    assert f"{name}[1].b" not in nodes
    backend.resume(name)
    assert backend.wait(name, timeout=10)["status"]["phase"] == "Succeeded"


def test_a_suspended_workflow_completes_only_once_resumed(backend: LocalBackend) -> None:
    """Argo's operate returns before executing any template while the workflow is suspended
    (workflow/controller/operator.go, ``ShouldSuspend``): a workflow whose last pod had started
    before the suspend is still Running after that pod has ended, and its exit handler has not
    run; resumed, it completes."""
    manifest = {
        "metadata": {"generateName": "susp-last-"},
        "spec": {
            "entrypoint": "last",
            "onExit": "bye",
            "templates": [
                {"name": "last", "container": {"image": "alpine", "command": ["sleep", "0.5"]}},
                {"name": "bye", "container": {"image": "alpine", "command": ["true"]}},
            ],
        },
    }
    name = backend.submit(manifest)
    _wait_for(lambda: name in nodes_by_name(backend.get(name)))
    backend.suspend(name)
    _wait_for(lambda: nodes_by_name(backend.get(name))[name]["phase"] == "Succeeded")
    time.sleep(1.0)
    held = backend.get(name)
    assert held["status"]["phase"] == "Running", held["status"]
    assert f"{name}.onExit" not in nodes_by_name(held)
    backend.resume(name)
    done = backend.wait(name, timeout=10)
    assert done["status"]["phase"] == "Succeeded"
    assert nodes_by_name(done)[f"{name}.onExit"]["phase"] == "Succeeded"


def test_a_completed_workflow_whose_runner_still_finishes_is_deleted(
    backend: LocalBackend,
) -> None:
    """Its runner's process ends a moment after the workflow completes (a caller that waited
    for the phase may delete at once, as CI did): delete waits for it, nothing to terminate."""
    pod = {"name": "t", "container": {"image": "alpine", "command": ["true"]}}
    manifest = {
        "metadata": {"generateName": "done-"},
        "spec": {"entrypoint": "t", "templates": [pod]},
    }
    name = backend.submit(manifest, wait=True)
    finishing = subprocess.Popen(["sleep", "0.5"])  # the runner, still on its way out
    backend.store.pid_path(name).write_text(str(finishing.pid))
    backend.delete(name)
    assert finishing.poll() == 0 and not backend.store.exists(name)


def test_logs_and_resubmit(backend: LocalBackend) -> None:
    name = backend.submit(
        {
            "metadata": {"generateName": "logs-"},
            "spec": {
                "entrypoint": "t",
                "templates": [
                    {
                        "name": "t",
                        "container": {
                            "image": "alpine",
                            "command": ["sh", "-c", "echo one; echo two >&2"],
                        },
                    }
                ],
            },
        },
        wait=True,
    )
    lines = [f"{line.label}: {line.content}" for line in backend.logs(name)]
    assert lines == [f"{name}: one", f"{name}: two"] or sorted(lines) == sorted(
        [f"{name}: one", f"{name}: two"]
    )
    # FormulateResubmitWorkflow: a memoized resubmit reuses a failed run's successes only.
    with pytest.raises(Conflict, match="must be Failed/Error to resubmit in memoized mode"):
        backend.resubmit(name, memoized=True)
    again = backend.resubmit(name, wait=True)
    assert again != name and backend.get(again)["status"]["phase"] == "Succeeded"
    assert [w["metadata"]["name"] for w in backend.list()].count(again) == 1
    backend.delete(again)
    assert again not in backend.store.names()


def test_status_validates_against_argo_crd(backend: LocalBackend, tmp_path: Path) -> None:
    flag = tmp_path / "never"
    wf = backend.run(_flaky_dag(flag))
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    result = subprocess.run(
        [sys.executable, str(ARGO / "validate.py"), "--crd", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_configmap_volume_and_secret_env(backend: LocalBackend) -> None:
    backend.apply(
        {"kind": "ConfigMap", "metadata": {"name": "plan"}, "data": {"shard-0.json": "[1, 2]\n"}}
    )
    backend.apply(
        {"kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "s3cr3t"}}
    )
    wf = backend.run(
        {
            "metadata": {"generateName": "cm-"},
            "spec": {
                "entrypoint": "t",
                "volumes": [{"name": "plan", "configMap": {"name": "plan"}}],
                "templates": [
                    {
                        "name": "t",
                        "container": {
                            "image": "alpine",
                            "command": [
                                "sh",
                                "-c",
                                "cat /etc/drover/plan/shard-0.json; echo $TOKEN",
                            ],
                            "env": [
                                {
                                    "name": "TOKEN",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": "creds", "key": "token"}
                                    },
                                }
                            ],
                            "volumeMounts": [{"name": "plan", "mountPath": "/etc/drover/plan"}],
                        },
                    }
                ],
            },
        }
    )
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert stdout_of(backend, root) == "[1, 2]\ns3cr3t"


def test_pods_start_with_default_signals_whatever_the_runner_inherited(
    backend: LocalBackend,
) -> None:
    # As a background job or under nohup: SIGHUP, SIGINT and SIGQUIT ignored, which an exec
    # keeps. A container's process starts with each at its default; so must a pod here.
    inherited = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
    saved = {signum: signal.signal(signum, signal.SIG_IGN) for signum in inherited}
    try:
        name = backend.submit(
            {
                "metadata": {"generateName": "signals-"},
                "spec": {
                    "entrypoint": "t",
                    "templates": [
                        {
                            "name": "t",
                            "container": {
                                "image": "alpine",
                                "command": ["grep", "^SigIgn:", "/proc/self/status"],
                            },
                        }
                    ],
                },
            }
        )
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert backend.wait(name, timeout=30)["status"]["phase"] == "Succeeded"
    (line,) = [line.content for line in backend.logs(name)]
    ignored = int(line.split()[1], 16)
    assert [s.name for s in inherited if ignored & (1 << (s - 1))] == []


def test_what_was_to_start_after_a_stop_fails_as_argo_fails_it(backend: LocalBackend) -> None:
    """Stopped while A runs: A fails, and B (run when A fails) gets no pod, its node a Pod
    failed with ``createWorkflowPod``'s "workflow shutdown with strategy: Stop"
    (workflowpod.go); the workflow ends Failed, "Stopped with strategy 'Stop'" (operate)."""
    marker = f"drover-stop-before-b-{os.getpid()}"
    tasks = [
        {"name": "A", "template": "sleep"},
        {"name": "B", "template": "sleep", "depends": "A.Failed"},
    ]
    sleep = shell_template("sleep", f"sleep 30 # {marker}")
    name = backend.submit(workflow_manifest([{"name": "main", "dag": {"tasks": tasks}}, sleep]))
    _wait_for(lambda: len(_pids_with_marker(marker)) >= 1)
    backend.stop(name)
    done = backend.wait(name, timeout=20)
    nodes = nodes_by_name(done)
    assert (done["status"]["phase"], done["status"]["message"]) == (
        "Failed",
        "Stopped with strategy 'Stop'",
    )
    assert nodes[f"{name}.A"]["phase"] == "Failed"
    b = nodes[f"{name}.B"]
    assert (b["type"], b["phase"]) == ("Pod", "Failed")
    assert b["message"] == "workflow shutdown with strategy: Stop"


def test_a_stop_leaves_a_running_daemon_to_its_steps(backend: LocalBackend) -> None:
    """Argo's ``applyExecutionControl`` (exec_control.go) passes over a ``Fulfilled()`` node,
    a daemon that is up among them: the stop fails what comes after it, and once the Steps
    node has failed ``killDaemonedChildren`` stops the daemon, its node Succeeded."""
    marker = f"drover-daemon-left-{os.getpid()}"
    steps = {
        "name": "main",
        "steps": [
            [{"name": "daemon", "template": "daemon"}],
            [{"name": "work", "template": "work"}],
        ],
    }
    daemon = shell_template("daemon", f"sleep 60 # {marker}", daemon=True)
    name = backend.submit(workflow_manifest([steps, daemon, shell_template("work", "sleep 60")]))
    _wait_for(lambda: len(_pids_with_marker(marker)) >= 1)
    backend.stop(name)
    done = backend.wait(name, timeout=20)
    nodes = nodes_by_name(done)
    assert done["status"]["phase"] == "Failed"
    daemon_node = nodes[f"{name}[0].daemon"]
    assert daemon_node["phase"] == "Succeeded" and "daemoned" not in daemon_node
    assert "message" not in daemon_node
    assert nodes[name]["phase"] == "Failed"
    _wait_for(lambda: not _pids_with_marker(marker))


def test_a_daemon_that_exits_zero_on_its_own_failed(backend: LocalBackend) -> None:
    """A daemon is meant to run until its scope ends: Argo's ``assessNodeStatus``
    (operator.go) marks a daemon whose pod succeeded Failed. Its scope went on while it was up,
    so the step after it still runs."""
    steps = {
        "name": "main",
        "steps": [
            [{"name": "daemon", "template": "daemon"}],
            [{"name": "work", "template": "work"}],
        ],
    }
    daemon = shell_template("daemon", "sleep 0.2", daemon=True)
    name = backend.submit(workflow_manifest([steps, daemon, shell_template("work", "sleep 2")]))
    done = backend.wait(name, timeout=30)
    nodes = nodes_by_name(done)
    daemon_node = nodes[f"{name}[0].daemon"]
    assert daemon_node["phase"] == "Failed" and "daemoned" not in daemon_node
    assert nodes[f"{name}[1].work"]["phase"] == "Succeeded"
