"""``progress`` as Argo v4.1.2 computes it: workflow/progress/updater.go ``UpdateProgress`` (its
cases from updater_test.go), pkg/apis/workflow/v1alpha1/progress.go (progress_test.go), and a
pod's self-reported progress (``ARGO_PROGRESS_FILE``, workflow/executor/executor.go
``monitorProgress``, copied onto the node as taskresult.go ``taskResultReconciliation`` does)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.durations import go_duration_string
from engine.backends.local.operator import WorkflowOperator
from engine.backends.local.runner import ProgressWatch
from engine.backends.local.runtime import Mount, PodPlan, SandboxRuntime, progress_ticks
from engine.backends.local.status import (
    add_progress,
    complete_progress,
    executable,
    is_valid_progress,
    parse_progress,
    reported_progress,
    update_progress,
)
from tests.local.conftest import nodes_by_name, shell_template, workflow_manifest

Node = dict[str, Any]


def _workflow(nodes: dict[str, Node]) -> dict[str, Any]:
    return {"metadata": {"name": "wf"}, "status": {"nodes": nodes}}


# --------------------------------------------------------------------------- progress.go


def test_parse_progress() -> None:
    """progress_test.go TestProgress/ParseProgress."""
    assert parse_progress("") is None
    assert parse_progress("0/1") == "0/1"


def test_is_valid() -> None:
    """progress_test.go TestProgress/IsValid; a text without ``/`` (Go's ``M()`` panics) is
    invalid, and a malformed number reads as 0 (``ParseInt``'s error is dropped)."""
    for invalid in ("", "/0", "0/", "0/0", "1/0", "5", "a/b", "1/2/3", "2/1", "-1/1"):
        assert not is_valid_progress(invalid), invalid
    for valid in ("0/1", "50/100", "+1/2", "01/02", " 1/2", "a/5"):
        assert is_valid_progress(valid), valid


def test_add_and_complete() -> None:
    """progress_test.go TestProgress/Add and /Complete."""
    assert add_progress("0/0", "1/2") == "1/2"
    assert add_progress("01/02", "1/2") == "2/4"
    assert complete_progress("0/100") == "100/100"


# --------------------------------------------------------------------------- updater.go


def test_updater() -> None:
    """updater_test.go TestUpdater."""
    workflow = _workflow(
        {
            "pod-1": {"type": "Pod", "phase": "Succeeded", "progress": "25/50"},
            "pod-2": {"type": "Pod", "phase": "Running", "progress": "50/150"},
            "http": {"type": "HTTP", "phase": "Failed"},
            "plug": {"type": "Plugin", "phase": "Succeeded"},
            "dag": {
                "type": "DAG",
                "phase": "Running",
                "children": ["pod-1", "pod-2", "http", "plug"],
            },
        }
    )
    update_progress(workflow)
    nodes = workflow["status"]["nodes"]
    assert nodes["pod-1"]["progress"] == "50/50"  # succeeded pod is completed
    assert nodes["pod-2"]["progress"] == "50/150"  # running pod is unchanged
    assert nodes["http"]["progress"] == "0/1"  # failed http is unchanged
    assert nodes["plug"]["progress"] == "1/1"  # succeeded plug is completed
    assert nodes["dag"]["progress"] == "101/202"  # dag is summed up
    assert workflow["status"]["progress"] == "101/202"  # wf is sum total


def test_executes() -> None:
    """updater_test.go Test_executes."""
    assert not executable("")
    for node_type in ("Pod", "Container", "Suspend", "HTTP", "Plugin"):
        assert executable(node_type), node_type
    for node_type in ("Steps", "StepGroup", "DAG", "TaskGroup", "Retry", "Skipped"):
        assert not executable(node_type), node_type


def test_only_succeeded_skipped_and_omitted_nodes_are_complete() -> None:
    phases = ("Pending", "Running", "Succeeded", "Skipped", "Omitted", "Failed", "Error")
    workflow = _workflow({p: {"type": "Suspend", "phase": p} for p in phases})
    update_progress(workflow)
    assert {p: n["progress"] for p, n in workflow["status"]["nodes"].items()} == {
        "Pending": "0/1",
        "Running": "0/1",
        "Succeeded": "1/1",
        "Skipped": "1/1",
        "Omitted": "1/1",
        "Failed": "0/1",
        "Error": "0/1",
    }
    assert workflow["status"]["progress"] == "3/7"


def test_a_node_reached_twice_through_children_counts_once() -> None:
    """``sumProgress``'s ``visited``: a DAG diamond (a → b, a → c, b → d, c → d) holds d once;
    each non-executable node sums what lies below it, not what its boundary holds."""
    workflow = _workflow(
        {
            "dag": {"type": "DAG", "phase": "Running", "children": ["a"]},
            "a": {"type": "Pod", "phase": "Succeeded", "children": ["b", "c"]},
            "b": {"type": "Pod", "phase": "Succeeded", "children": ["d"]},
            "c": {"type": "Pod", "phase": "Failed", "children": ["d"]},
            "d": {"type": "Pod", "phase": "Running"},
            "group": {"type": "TaskGroup", "phase": "Running", "children": ["c", "gone"]},
        }
    )
    update_progress(workflow)
    nodes = workflow["status"]["nodes"]
    assert nodes["dag"]["progress"] == "2/4"
    assert nodes["group"]["progress"] == "0/2"  # c and d; a missing child is ignored
    assert workflow["status"]["progress"] == "2/4"


def test_invalid_progress_is_neither_completed_nor_summed() -> None:
    workflow = _workflow(
        {
            "steps": {"type": "Steps", "phase": "Succeeded", "children": ["bad", "good"]},
            "bad": {"type": "Pod", "phase": "Succeeded", "progress": "3/2"},
            "good": {"type": "Pod", "phase": "Succeeded", "progress": "1/4"},
        }
    )
    update_progress(workflow)
    nodes = workflow["status"]["nodes"]
    assert (nodes["bad"]["progress"], nodes["good"]["progress"]) == ("3/2", "4/4")
    assert nodes["steps"]["progress"] == workflow["status"]["progress"] == "4/4"


def test_a_sum_of_nothing_sets_no_progress() -> None:
    """A node with no executable node below keeps what it had (none); the workflow's is 0/0."""
    workflow = _workflow(
        {
            "steps": {"type": "Steps", "phase": "Succeeded", "children": ["skipped"]},
            "skipped": {"type": "Skipped", "phase": "Skipped"},
        }
    )
    update_progress(workflow)
    assert all("progress" not in n for n in workflow["status"]["nodes"].values())
    assert workflow["status"]["progress"] == "0/0"


# --------------------------------------------------------------------------- self-reported


def test_the_progress_file_is_read_as_the_executor_reads_it() -> None:
    """``monitorProgress``: the last line, trimmed; nothing for an unchanged or empty one; an
    invalid line is read (so not read again) but reports nothing."""
    assert reported_progress("0/100\n50/100\n", "") == ("50/100", "50/100")
    assert reported_progress("  7/9  \n\n", "") == ("7/9", "7/9")
    assert reported_progress("50/100\n", "50/100") == (None, "50/100")
    assert reported_progress("\n", "50/100") == (None, "50/100")
    assert reported_progress("half done", "50/100") == (None, "half done")


def test_a_watch_reports_what_it_read_once(tmp_path: Path) -> None:
    watch = ProgressWatch(tmp_path / "progress", 0.0, 0.0)
    watch.read()  # not written yet
    assert watch.take() is None
    watch.path.write_text("1/4\n")
    watch.read()
    watch.path.write_text("2/4\n")
    watch.read()
    assert (watch.take(), watch.take()) == ("2/4", None)
    watch.read()  # unchanged: nothing new
    assert watch.take() is None


def test_ticks_come_from_the_runner_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """controller.go: patch tick 1m, file tick 3s; either at zero disables monitoring."""
    monkeypatch.delenv("ARGO_PROGRESS_PATCH_TICK_DURATION", raising=False)
    monkeypatch.delenv("ARGO_PROGRESS_FILE_TICK_DURATION", raising=False)
    assert progress_ticks() == (60.0, 3.0)
    monkeypatch.setenv("ARGO_PROGRESS_PATCH_TICK_DURATION", "7s")
    assert progress_ticks() == (7.0, 3.0)
    monkeypatch.setenv("ARGO_PROGRESS_FILE_TICK_DURATION", "0")
    assert progress_ticks() is None


def test_go_duration_string() -> None:
    """``time.Duration.String``, as workflowpod.go passes the ticks to the pod."""
    cases = {60: "1m0s", 3: "3s", 7: "7s", 1.5: "1.5s", 0.5: "500ms", 0: "0s", 3661: "1h1m1s"}
    assert {s: go_duration_string(s) for s in cases} == cases


def test_a_mount_below_a_linked_directory_is_bound_where_the_link_leads(tmp_path: Path) -> None:
    """As ``/var/run/argo`` is bound at ``/run/argo`` where ``/var/run`` links to ``/run``
    (bubblewrap cannot make a mount point through the link); inside another mount the host's
    links are not on the way."""
    tmp_path = tmp_path.resolve()
    (tmp_path / "run").mkdir()
    (tmp_path / "var").symlink_to(tmp_path / "run")
    host = tmp_path / "pod"

    def binds(*targets: str) -> list[tuple[str, str]]:
        plan = PodPlan(
            node_id="n",
            argv=["true"],
            env={},
            working_dir=None,
            mounts=[Mount(host, target) for target in targets],
            pod_dir=tmp_path,
            log_path=tmp_path / "log",
            outputs={},
            artifact_dir=lambda name: tmp_path / name,
        )
        argv = SandboxRuntime("bwrap").command(plan)[0]
        return [(argv[i + 1], argv[i + 2]) for i, op in enumerate(argv) if op == "--bind"]

    assert (str(host), f"{tmp_path}/run/argo") in binds(f"{tmp_path}/var/argo")
    inside = binds(f"{tmp_path}/var", f"{tmp_path}/var/argo")
    assert (str(host), f"{tmp_path}/var/argo") in inside


def test_an_initial_progress_annotation_is_the_pods_progress() -> None:
    """workflowpod.go ``ProgressToApply``: the pod's ``workflow.argoproj.io/progress``
    annotation, from ``podMetadata`` or the template's ``metadata`` (which wins)."""
    annotated = shell_template(
        "main", "true", metadata={"annotations": {"workflow.argoproj.io/progress": "0/100"}}
    )
    manifest = workflow_manifest(
        [annotated], podMetadata={"annotations": {"workflow.argoproj.io/progress": "0/5"}}
    )
    manifest["metadata"] = {"name": "annotated"}
    operator = WorkflowOperator(manifest)
    operator.operate()
    assert operator.nodes["annotated"]["progress"] == "0/100"
    assert not operator.pod_progress("annotated", "7/5")  # invalid: a task result's is ignored
    assert operator.pod_progress("annotated", "7/100")
    assert operator.nodes["annotated"]["progress"] == "7/100"


# --------------------------------------------------------------------------- end to end


def test_steps_count_pods_and_suspends_through_their_children(backend: LocalBackend) -> None:
    """A step group's children are its steps, whose children are the next group: each node
    sums what follows it (``sumProgress``); a failed pod under ``continueOn`` stays 0/1."""
    steps = {
        "name": "main",
        "steps": [
            [{"name": "a", "template": "fail", "continueOn": {"failed": True}}],
            [{"name": "wait", "template": "wait"}],
            [{"name": "b", "template": "ok"}],
        ],
    }
    done = backend.run(
        workflow_manifest(
            [
                steps,
                shell_template("fail", "exit 1"),
                shell_template("ok", "true"),
                {"name": "wait", "suspend": {"duration": "0"}},
            ]
        )
    )
    name = done["metadata"]["name"]
    nodes = nodes_by_name(done)
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["progress"] == "2/3"
    assert nodes[name]["progress"] == "2/3"
    assert nodes[f"{name}[0]"]["progress"] == "2/3"
    assert nodes[f"{name}[0].a"]["progress"] == "0/1"
    assert nodes[f"{name}[1]"]["progress"] == "2/2"
    assert nodes[f"{name}[1].wait"]["progress"] == "1/1"
    assert nodes[f"{name}[2]"]["progress"] == "1/1"


@pytest.mark.parametrize(
    ("code", "phase", "expected"), [(0, "Succeeded", "4/4"), (3, "Failed", "3/4")]
)
def test_a_pod_reports_its_own_progress(
    backend: LocalBackend, code: int, phase: str, expected: str
) -> None:
    """What the pod last wrote to ``$ARGO_PROGRESS_FILE`` is its node's progress, complete once
    it succeeded; read when the pod ends, however short it ran."""
    script = f'echo 1/4 > "$ARGO_PROGRESS_FILE"; echo 3/4 >> "$ARGO_PROGRESS_FILE"; exit {code}'
    done = backend.run(workflow_manifest([shell_template("main", script)]))
    node = nodes_by_name(done)[done["metadata"]["name"]]
    assert node["phase"] == phase
    assert node["progress"] == done["status"]["progress"] == expected


def test_the_pod_sees_argos_progress_environment(backend: LocalBackend) -> None:
    """workflowpod.go: ``ARGO_PROGRESS_FILE`` is ``/var/run/argo/progress`` (rewritten to its
    host directory where pods run without a sandbox), with the ticks as Go prints them."""
    script = 'echo "$ARGO_PROGRESS_FILE $ARGO_PROGRESS_PATCH_TICK_DURATION $ARGO_PROGRESS_FILE_TICK_DURATION"'
    done = backend.run(workflow_manifest([shell_template("main", script)]))
    name = done["metadata"]["name"]
    (said,) = [line.content for line in backend.logs(name, node=name)]
    path, patch, read = said.split()
    assert (patch, read) == ("1m0s", "3s")
    expected = "/var/run/argo/progress"
    if backend.store.runtime_path(name).read_text() == "process":
        expected = str(backend.store.pod_dir(name, name) / "var-run-argo" / "progress")
    assert path == expected


def test_progress_monitoring_off_sets_no_progress_file(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGO_PROGRESS_PATCH_TICK_DURATION", "0s")
    script = 'test -z "${ARGO_PROGRESS_FILE:-}"'
    done = backend.run(workflow_manifest([shell_template("main", script)]))
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["progress"] == "1/1"


def test_a_running_pods_progress_reaches_its_node_at_the_patch_tick(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGO_PROGRESS_PATCH_TICK_DURATION", "500ms")
    monkeypatch.setenv("ARGO_PROGRESS_FILE_TICK_DURATION", "100ms")
    script = 'echo 2/8 > "$ARGO_PROGRESS_FILE"; sleep 3; exit 1'
    name = backend.submit(workflow_manifest([shell_template("main", script)]))
    deadline = time.time() + 30
    while (node := backend.get(name)["status"].get("nodes", {}).get(name, {})).get(
        "progress"
    ) != "2/8":
        assert time.time() < deadline, node
        time.sleep(0.05)
    assert node["phase"] == "Running"
    done = backend.wait(name, timeout=30)
    assert done["status"]["nodes"][name]["progress"] == done["status"]["progress"] == "2/8"
