"""Both executors satisfy the service's one seam, ``engine.backends.base.Backend``; the local
backend's side of it (objects, labels, logs, resubmit labels, watch, artifacts) on real runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.backends import build_backends, control
from api.settings import Settings
from engine.backends.argo import ArgoBackend, ArgoSettings, resubmitted_from
from engine.backends.base import Backend, LogLine, WorkflowEvent
from engine.backends.local import LocalBackend
from engine.backends.local.watch import changes, poll_events
from engine.cli import app
from engine.errors import Conflict, SpecError
from engine.labels import RESUBMITTED_FROM


@pytest.fixture
def local(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "home")


def _echo(name: str, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}, **extra},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "container": {
                        "image": "alpine",
                        "command": ["sh", "-c", "echo one; echo two > /tmp/out.txt; echo $F"],
                        "env": [
                            {
                                "name": "F",
                                "valueFrom": {
                                    "configMapKeyRef": {"name": f"{name}-plan", "key": "text"}
                                },
                            }
                        ],
                    },
                    "outputs": {
                        "artifacts": [
                            {"name": "out", "path": "/tmp/out.txt", "archive": {"none": {}}}
                        ]
                    },
                }
            ],
        },
    }


def _plan(name: str) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {"name": f"{name}-plan"}, "data": {"text": "three"}}


def test_both_backends_satisfy_the_protocol(local: LocalBackend, tmp_path: Path) -> None:
    argo = ArgoBackend(ArgoSettings(server="http://127.0.0.1:9/", namespace="drover"))
    try:
        for backend in (local, argo):
            assert isinstance(backend, Backend)
        assert (local.kind, argo.kind) == ("local", "argo")
        assert local.ui_url("wf") is None
        assert argo.ui_url("wf-1") == "http://127.0.0.1:9/workflows/drover/wf-1"
    finally:
        argo.close()


def test_settings_choose_the_backend(tmp_path: Path) -> None:
    assert set(build_backends(Settings(home=tmp_path))) == {"local"}
    chosen = build_backends(
        Settings(
            home=tmp_path,
            backend="argo",
            argo_server="https://argo.example:2746",
            namespace="tests",
            argo_ui_url="https://ui.example",
        )
    )
    argo = chosen["argo"]
    assert isinstance(argo, ArgoBackend) and argo.namespace == "tests"
    assert argo.ui_url("wf") == "https://ui.example/workflows/tests/wf"
    with pytest.raises(SpecError) as error:
        build_backends(Settings(home=tmp_path, backend="argo"))
    assert error.value.path == "DROVER_ARGO_SERVER"
    with pytest.raises(Conflict):
        control(chosen["local"], "wf", "explode")


def test_submit_applies_objects_first_and_logs_are_lines(local: LocalBackend) -> None:
    name = local.submit(_echo("objects"), objects=[_plan("objects")], wait=True)
    workflow = local.get(name)
    assert workflow["status"]["phase"] == "Succeeded"
    lines = list(local.logs(name))
    pod = next(n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod")
    assert [(line.pod, line.content, line.label) for line in lines] == [
        (pod["id"], "one", name),
        (pod["id"], "three", name),
    ]
    assert all(isinstance(line, LogLine) for line in lines)
    assert local.read_artifact(name, pod["id"], "out") == b"two\n"
    assert local.read_artifact(name, pod["id"], "missing") is None
    assert local.read_artifact(name, "no-such-node", "out") is None


def test_bad_objects_are_refused_before_anything_is_stored(local: LocalBackend) -> None:
    with pytest.raises(SpecError) as error:
        local.submit(_echo("refused"), objects=[_plan("refused"), {"kind": "Pod"}])
    assert error.value.path == "objects[1].kind"
    assert local.list() == [] and local.store.get_object("ConfigMap", "refused-plan") is None


def test_cli_prints_logs_as_before(local: LocalBackend) -> None:
    name = local.submit(_echo("cli"), objects=[_plan("cli")], wait=True)
    result = CliRunner().invoke(app, ["logs", name, "--home", str(local.home)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{name}: one\n{name}: three\n"


def test_list_filters_by_labels(local: LocalBackend) -> None:
    local.submit(_echo("team-a", {"team": "a", "tier": "1"}), objects=[_plan("team-a")])
    local.submit(_echo("team-b", {"team": "b"}), objects=[_plan("team-b")])
    names = lambda labels: sorted(w["metadata"]["name"] for w in local.list(labels=labels))  # noqa: E731
    assert names(None) == ["team-a", "team-b"]
    assert names({"team": "a"}) == ["team-a"]
    assert names({"team": "a", "tier": "2"}) == []


def test_resubmit_labels_like_argo(local: LocalBackend) -> None:
    labels = {
        "drover.dev/run-id": "r1",
        "workflows.argoproj.io/creator": "someone",
        "workflows.argoproj.io/cron-workflow": "nightly",
    }
    old = local.submit(
        _echo("original", labels, annotations={"workflows.argoproj.io/title": "Shop"}),
        objects=[_plan("original")],
        wait=True,
    )
    new = local.resubmit(old, wait=True)
    meta = local.get(new)["metadata"]
    assert new.startswith("original-") and resubmitted_from(local.get(new)) == old
    # Argo keeps user and Argo labels but not the creator's nor the old run's phase.
    assert meta["labels"]["drover.dev/run-id"] == "r1"
    assert meta["labels"]["workflows.argoproj.io/cron-workflow"] == "nightly"
    assert meta["labels"][RESUBMITTED_FROM] == old
    assert "workflows.argoproj.io/creator" not in meta["labels"]
    assert meta["annotations"] == {"workflows.argoproj.io/title": "Shop"}
    assert local.get(new)["status"]["phase"] == "Succeeded"


def test_retry_takes_argos_options(local: LocalBackend) -> None:
    failing = {
        "metadata": {"name": "failing"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "container": {"image": "alpine", "command": ["sh", "-c", "exit 3"]},
                }
            ],
        },
    }
    name = local.submit(failing, wait=True)
    assert local.get(name)["status"]["phase"] == "Failed"
    local.retry(name, restart_successful=True, wait=True)
    assert local.get(name)["status"]["phase"] == "Failed"


class _Deadline:
    """A ``sleep`` for ``poll_events`` that gives up after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def __call__(self, interval: float) -> None:
        self.left -= interval
        if self.left <= 0:
            raise TimeoutError("no further event")
        threading.Event().wait(interval)


def _until(events: Iterator[WorkflowEvent], wanted: Any) -> list[WorkflowEvent]:
    seen = []
    for event in events:
        seen.append(event)
        if wanted(event):
            return seen
    raise AssertionError("the watch ended")


def test_watch_reports_added_modified_deleted(local: LocalBackend) -> None:
    first = local.submit(_echo("first", {"team": "a"}), objects=[_plan("first")], wait=True)
    local.submit(_echo("other", {"team": "b"}), objects=[_plan("other")], wait=True)
    # The Protocol's watch: what exists arrives first, as ADDED, filtered by labels.
    added = next(iter(local.watch(labels={"team": "a"})))
    assert (added.type, added.workflow["metadata"]["name"]) == ("ADDED", first)

    events = poll_events(
        local.store.root / "workflows",
        local.get,
        labels={"team": "a"},
        interval=0.05,
        sleep=_Deadline(20),
    )
    assert next(events).workflow["metadata"]["name"] == first
    second = local.submit(_echo("second", {"team": "a"}), objects=[_plan("second")])
    seen = _until(
        events,
        lambda e: (
            e.workflow["metadata"]["name"] == second
            and e.workflow["status"].get("phase") == "Succeeded"
        ),
    )
    assert seen[0].type == "ADDED" and {e.type for e in seen[1:]} <= {"MODIFIED"}
    assert all(e.workflow["metadata"]["name"] == second for e in seen)
    local.delete(first)
    gone = _until(events, lambda e: e.type == "DELETED")
    assert gone[-1].workflow["metadata"]["name"] == first


def test_changes_between_scans() -> None:
    assert changes({"a": (1, 1, 1), "b": (1, 1, 2)}, {"b": (2, 1, 2), "c": (1, 1, 3)}) == [
        ("MODIFIED", "b"),
        ("ADDED", "c"),
        ("DELETED", "a"),
    ]
