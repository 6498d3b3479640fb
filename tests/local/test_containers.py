"""How containers fail and how container sets run, as in Argo v4.1.2, with both runtimes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.runtime import Mount, PodPlan
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
