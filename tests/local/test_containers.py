"""How containers fail and how container sets run, as in Argo v4.1.2, with both runtimes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.runtime import ExecError, Mount, PodPlan, look_path
from tests.local.conftest import nodes_by_name, workflow_manifest

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
