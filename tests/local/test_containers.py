"""How containers fail and how container sets run, as in Argo v4.1.2, with both runtimes."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.runtime import (
    Backoff,
    ExecError,
    Mount,
    PodPlan,
    container_set_backoff,
    look_path,
)
from tests.local.conftest import nodes_by_name, shell_template, stdout_of, workflow_manifest

RUNTIMES = [
    pytest.param(
        "sandbox",
        marks=pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed"),
    ),
    "process",
]


@pytest.fixture(params=RUNTIMES)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> LocalBackend:
    monkeypatch.setenv("DROVER_HOME", str(tmp_path / "home"))
    return LocalBackend(tmp_path / "home", runtime=request.param)


def _plan(tmp_path: Path, mounts: list[Mount]) -> PodPlan:
    return PodPlan(
        node_id="pod",
        argv=["true"],
        env={},
        working_dir=None,
        mounts=mounts,
        pod_dir=tmp_path,
        log_path=tmp_path / "pod.log",
        outputs={},
        artifact_dir=lambda name: tmp_path / name,
    )


# ------------------------------------------------------------------ a volume at /tmp


def test_of_mounts_at_one_target_the_later_lies_on_top(tmp_path: Path) -> None:
    plan = _plan(tmp_path, [Mount(tmp_path / "private", "/tmp"), Mount(tmp_path / "vol", "/tmp")])
    assert plan.host_path("/tmp/a.txt") == tmp_path / "vol" / "a.txt"
    assert plan.host_path("/tmp") == tmp_path / "vol"


def test_outputs_are_read_from_a_volume_mounted_at_tmp(
    backend: LocalBackend, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    done = backend.run(
        workflow_manifest(
            [
                {
                    "name": "main",
                    "container": {
                        "image": "alpine",
                        "command": ["sh", "-c", "echo on-the-volume > /tmp/out.txt"],
                        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
                    },
                    "outputs": {
                        "parameters": [{"name": "p", "valueFrom": {"path": "/tmp/out.txt"}}],
                        "artifacts": [{"name": "a", "path": "/tmp/out.txt"}],
                    },
                }
            ],
            volumes=[{"name": "scratch", "hostPath": {"path": str(volume)}}],
        )
    )
    assert done["status"]["phase"] == "Succeeded"
    [node] = [n for n in nodes_by_name(done).values() if n["type"] == "Pod"]
    assert node["outputs"]["parameters"][0]["value"] == "on-the-volume"
    assert (volume / "out.txt").read_text() == "on-the-volume\n"


# ------------------------------------------------------------------ failure messages


def test_a_failed_pod_names_its_main_container(backend: LocalBackend) -> None:
    """inferFailedReason (Argo v3.7+): "<container>: <reason> (exit code N)"."""
    done = backend.run(
        workflow_manifest(
            [
                {
                    "name": "main",
                    "steps": [
                        [{"name": "c", "template": "c", "continueOn": {"failed": True}}],
                        [{"name": "s", "template": "s"}],
                    ],
                },
                {"name": "c", "container": {"image": "alpine", "command": ["sh", "-c", "exit 3"]}},
                {"name": "s", "script": {"image": "alpine", "command": ["sh"], "source": "exit 4"}},
            ]
        )
    )
    got = {n["displayName"]: n for n in nodes_by_name(done).values()}
    assert (got["c"]["phase"], got["c"]["message"]) == ("Failed", "main: Error (exit code 3)")
    assert (got["s"]["phase"], got["s"]["message"]) == ("Failed", "main: Error (exit code 4)")


# ------------------------------------------------------------------ a missing command


def test_look_path_finds_and_fails_as_gos_exec_look_path(tmp_path: Path) -> None:
    """os/exec/lp_unix.go: LookPath, findExecutable, exec.Error."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "tool").chmod(0o755)
    (tmp_path / "bin" / "plain").write_text("")
    (tmp_path / "bin" / "plain").chmod(0o644)

    def host(path: str) -> Path:  # the container's / is tmp_path, its working directory /bin
        return tmp_path / path.lstrip("/") if path.startswith("/") else tmp_path / "bin" / path

    assert look_path("tool", "/usr:/bin", host) == "/bin/tool"
    assert look_path("/bin/tool", "", host) == "/bin/tool"
    assert look_path("./tool", "", host) == "./tool"
    for name, search, error in [
        ("invalid", "/bin", 'exec: "invalid": executable file not found in $PATH'),
        ("plain", "/bin", 'exec: "plain": executable file not found in $PATH'),
        ("tool", "", 'exec: "tool": executable file not found in $PATH'),
        (
            "tool",
            "/usr::",
            'exec: "tool": cannot run executable found relative to current directory',
        ),
        ("/bin/none", "", 'exec: "/bin/none": stat /bin/none: no such file or directory'),
        ("/bin", "", 'exec: "/bin": is a directory'),
        ("/bin/plain", "", 'exec: "/bin/plain": permission denied'),
    ]:
        with pytest.raises(ExecError) as raised:
            look_path(name, search, host)
        assert str(raised.value) == error


def test_a_missing_command_fails_with_the_emissarys_error(backend: LocalBackend) -> None:
    """invalid_command_test.go; runEmissary and cmd/argoexec/main.go: exit code 64, the error
    in the log and the termination message."""
    done = backend.run(
        workflow_manifest([{"name": "main", "container": {"image": "x", "command": ["invalid"]}}])
    )
    error = 'failed to find name in PATH: exec: "invalid": executable file not found in $PATH'
    assert done["status"]["phase"] == "Failed"
    [node] = nodes_by_name(done).values()
    assert node["phase"] == "Failed"
    assert node["message"] == f"main: Error (exit code 64): {error}"
    assert node["outputs"]["exitCode"] == "64"
    name = done["metadata"]["name"]
    assert [line.content for line in backend.logs(name)] == [f"Error: {error}", error]


def test_a_command_is_looked_up_in_the_containers_filesystem(
    backend: LocalBackend, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "run.sh").write_text("#!/bin/sh\necho ran $0\n")
    (volume / "run.sh").chmod(0o755)
    mounted = {
        "image": "x",
        "volumeMounts": [{"name": "v", "mountPath": "/opt/tools"}],
        "workingDir": "/opt/tools",
    }
    done = backend.run(
        workflow_manifest(
            [
                {
                    "name": "main",
                    "steps": [
                        [
                            {"name": "absolute", "template": "absolute"},
                            {"name": "relative", "template": "relative"},
                            {"name": "on-path", "template": "on-path"},
                        ]
                    ],
                },
                {"name": "absolute", "container": {**mounted, "command": ["/opt/tools/run.sh"]}},
                {"name": "relative", "container": {**mounted, "command": ["./run.sh"]}},
                {
                    "name": "on-path",
                    "container": {
                        **mounted,
                        "command": ["run.sh"],
                        "env": [{"name": "PATH", "value": "/opt/tools:/usr/bin:/bin"}],
                    },
                },
            ],
            volumes=[{"name": "v", "hostPath": {"path": str(volume)}}],
        )
    )
    assert done["status"]["phase"] == "Succeeded", [
        n.get("message") for n in nodes_by_name(done).values()
    ]


# ------------------------------------------------------------------ init containers


def _with_init(*inits: dict[str, Any], main: str) -> dict[str, Any]:
    mounts = [{"name": "shared", "mountPath": "/shared"}]
    template = shell_template("main", main)
    template["container"]["volumeMounts"] = mounts
    template["initContainers"] = [
        {"image": "alpine", "mirrorVolumeMounts": True, **init} for init in inits
    ]
    return workflow_manifest([template], volumes=[{"name": "shared", "emptyDir": {}}])


def test_init_containers_run_in_order_before_the_main_one(backend: LocalBackend) -> None:
    """Kubernetes runs a pod's init containers one after another, each to its end, before its
    other containers; ``mirrorVolumeMounts`` gives them the main container's volumes."""
    done = backend.run(
        _with_init(
            {"name": "first", "command": ["sh", "-c", "echo one > /shared/order"]},
            {"name": "second", "command": ["sh", "-c", "echo two >> /shared/order"]},
            main="cat /shared/order",
        )
    )
    assert done["status"]["phase"] == "Succeeded"
    (pod,) = done["status"]["nodes"].values()
    assert stdout_of(backend, pod) == "one\ntwo"


def test_a_pod_initializing_is_pending_until_its_main_container_starts(
    backend: LocalBackend, tmp_path: Path
) -> None:
    """While init containers run, Kubernetes keeps the pod Pending and its other containers
    waiting with reason PodInitializing, which Argo's ``getPendingReason`` (operator.go) makes
    the node's message; the node runs once the main container does."""
    release = tmp_path / "release"
    manifest = _with_init(
        {
            "name": "wait",
            "command": ["sh", "-c", f"while [ ! -e {release} ]; do sleep 0.05; done"],
            "volumeMounts": [{"name": "host", "mountPath": str(tmp_path)}],
        },
        main="sleep 0.5",
    )
    manifest["spec"]["volumes"].append({"name": "host", "hostPath": {"path": str(tmp_path)}})
    name = backend.submit(manifest)

    def pod() -> dict[str, Any]:
        nodes = backend.get(name)["status"].get("nodes") or {}
        return next(iter(nodes.values()), {})

    deadline = time.time() + 15
    while pod().get("message") != "PodInitializing" and time.time() < deadline:
        time.sleep(0.05)
    assert (pod().get("phase"), pod().get("message")) == ("Pending", "PodInitializing")
    release.touch()
    while pod().get("phase") == "Pending" and time.time() < deadline:
        time.sleep(0.05)
    assert pod()["phase"] == "Running" and "message" not in pod()
    assert backend.wait(name)["status"]["phase"] == "Succeeded"


def test_no_tmp_link_outlives_its_container(backend: LocalBackend) -> None:
    """The process runtime points each container's TMPDIR at a short ``/tmp/drover-<hash>``
    link to its private tmp: an init container's and a sidecar's go when they end, as the main
    container's does (they were left behind, one per pod)."""
    manifest = _with_init({"name": "first", "command": ["sh", "-c", "true"]}, main="sleep 0.2")
    manifest["spec"]["templates"][0]["sidecars"] = [
        {"name": "side", "image": "alpine", "command": ["sh", "-c", "sleep 30"]}
    ]
    done = backend.run(manifest)
    assert done["status"]["phase"] == "Succeeded"
    home = str(backend.home.resolve())
    links = [p for p in Path("/tmp").glob("drover-*") if p.is_symlink()]
    assert [p for p in links if os.readlink(p).startswith(home)] == []


def test_a_failed_init_container_fails_the_pod_before_its_main_one_runs(
    backend: LocalBackend,
) -> None:
    """``inferFailedReason`` (operator.go) reads init containers first: the node fails with
    "<name>: Error (exit code N)", and the main container never ran (no exit code)."""
    done = backend.run(
        _with_init(
            {"name": "setup", "command": ["sh", "-c", "exit 3"]},
            main="echo main ran > /shared/main",
        )
    )
    (pod,) = done["status"]["nodes"].values()
    assert (pod["phase"], pod["message"]) == ("Failed", "setup: Error (exit code 3)")
    assert "exitCode" not in (pod.get("outputs") or {})
    assert stdout_of(backend, pod) == ""


# ------------------------------------------------------------------ container sets


def _container_set(*containers: dict[str, Any], **container_set: Any) -> dict[str, Any]:
    return workflow_manifest(
        [
            {
                "name": "main",
                "containerSet": {
                    "containers": [{"image": "x", **c} for c in containers],
                    **container_set,
                },
            }
        ],
        volumes=[{"name": "shared", "emptyDir": {}}],
    )


def _by_display(done: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in nodes_by_name(done).values()}


def test_the_containers_of_a_set_run_at_once(backend: LocalBackend) -> None:
    """Each waits for its own dependencies only (runEmissary): a and b see each other run."""
    meet = "touch /s/{me}; for i in $(seq 100); do [ -f /s/{other} ] && exit 0; sleep 0.1; done; exit 1"
    mounts = [{"name": "shared", "mountPath": "/s"}]
    done = backend.run(
        _container_set(
            {"name": "a", "command": ["sh", "-c", meet.format(me="a", other="b")]},
            {"name": "b", "command": ["sh", "-c", meet.format(me="b", other="a")]},
            volumeMounts=mounts,
        )
    )
    assert done["status"]["phase"] == "Succeeded"


def test_a_set_reports_the_exit_code_of_its_main_container_only(backend: LocalBackend) -> None:
    """The controller's ``getExitCode`` (operator.go) reads the container named ``main``: a
    set with one reports its code, a set without one none."""
    with_main = backend.run(
        _container_set(
            {"name": "main", "command": ["sh", "-c", "exit 0"]},
            {"name": "after", "command": ["sh", "-c", "exit 0"], "dependencies": ["main"]},
        )
    )
    root = with_main["status"]["nodes"][with_main["metadata"]["name"]]
    assert root["outputs"]["exitCode"] == "0"
    without = backend.run(_container_set({"name": "a", "command": ["sh", "-c", "exit 0"]}))
    root = without["status"]["nodes"][without["metadata"]["name"]]
    assert without["status"]["phase"] == "Succeeded"
    assert "exitCode" not in (root.get("outputs") or {})


def test_a_container_whose_dependency_failed_ends_with_the_emissarys_error(
    backend: LocalBackend,
) -> None:
    """runEmissary: exit code 64 and "dependency ... exited with non-zero code: N", N passed on
    to its own dependents; assessNodeStatus: an Error node; inferFailedReason: the pod's
    message is its first failed container's, by name."""
    done = backend.run(
        _container_set(
            {"name": "z", "command": ["sh", "-c", "exit 3"]},
            {"name": "y", "command": ["sh", "-c", "echo never y"], "dependencies": ["z"]},
            {"name": "x", "command": ["sh", "-c", "echo never x"], "dependencies": ["y"]},
            {"name": "w", "command": ["sh", "-c", "echo w"]},
        )
    )
    got = _by_display(done)
    assert done["status"]["phase"] == "Failed"
    assert (got["z"]["phase"], got["z"]["message"]) == ("Failed", "z: Error (exit code 3): ")
    assert got["y"]["phase"] == got["x"]["phase"] == "Error"
    assert (
        got["y"]["message"]
        == 'y: Error (exit code 64): dependency "z" exited with non-zero code: 3'
    )
    assert (
        got["x"]["message"]
        == 'x: Error (exit code 64): dependency "y" exited with non-zero code: 3'
    )
    assert got["w"]["phase"] == "Succeeded"
    pod = next(n for n in got.values() if n["type"] == "Pod")
    assert pod["message"] == 'x: Error (exit code 64): dependency "y" exited with non-zero code: 3'
    logs = [line.content for line in backend.logs(done["metadata"]["name"])]
    assert "w" in logs and not any(line.startswith("never") for line in logs)


def test_retries_of_a_set_are_its_attempts_in_all(backend: LocalBackend) -> None:
    """GetRetryStrategy: Steps = retries; retry.OnError retries every failure of the command,
    not a command that is not found (the lookup comes before)."""
    done = backend.run(
        _container_set(
            {"name": "fails", "command": ["sh", "-c", "echo attempt; exit 1"]},
            {"name": "missing", "command": ["invalid"]},
            retryStrategy={"retries": "3"},
        )
    )
    got = _by_display(done)
    assert got["fails"]["message"] == "fails: Error (exit code 1): "
    assert got["missing"]["phase"] == "Error"
    logs = [line.content for line in backend.logs(done["metadata"]["name"])]
    assert logs.count("attempt") == 3
    assert sum("executable file not found" in line for line in logs) == 2  # cobra's, main.go's


def test_no_retries_run_no_attempt(backend: LocalBackend) -> None:
    """retries: 0 is Steps 0: wait.ExponentialBackoff never runs the condition, retry.OnError
    returns no error, the emissary exits 0 (runEmissary)."""
    done = backend.run(
        _container_set(
            {"name": "a", "command": ["sh", "-c", "echo ran; exit 1"]},
            retryStrategy={"retries": 0},
        )
    )
    assert done["status"]["phase"] == "Succeeded"
    assert [line.content for line in backend.logs(done["metadata"]["name"])] == []


def test_a_stopped_set_signals_the_containers_waiting_for_dependencies(
    backend: LocalBackend,
) -> None:
    done = backend.run(
        workflow_manifest(
            [
                {
                    "name": "main",
                    "activeDeadlineSeconds": 1,
                    "containerSet": {
                        "containers": [
                            {"name": "a", "image": "x", "command": ["sleep", "30"]},
                            {"name": "b", "image": "x", "command": ["true"], "dependencies": ["a"]},
                        ],
                        "retryStrategy": {"retries": 5, "duration": "10s"},
                    },
                }
            ]
        )
    )
    got = _by_display(done)
    assert got["a"]["message"] == "a: Error (exit code 143): "
    assert got["b"]["message"] == "b: Error (exit code 143): "


def test_container_set_backoff() -> None:
    assert container_set_backoff({}) == Backoff(1, 0.0)
    assert container_set_backoff({"retryStrategy": {"retries": "2"}}) == Backoff(2, 0.0)
    assert container_set_backoff({"retryStrategy": {"retries": 3, "duration": "5s"}}) == Backoff(
        3, 5.0
    )
    assert container_set_backoff({"retryStrategy": {"retries": "two"}}) == Backoff(0, 0.0)
