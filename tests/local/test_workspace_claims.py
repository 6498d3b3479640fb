"""Issue 12 defect 4: a PVC workspace survives ``argo retry``, and a memoized resubmit's new,
empty claim gets prepared — the compiled workflow on the local runner, which deletes claims
as Argo's ``volumeClaimGC`` does (engine/backends/local/claims.py, after ``deletePVCs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.memory_claims import TMPFS
from engine.compiler import compile_plan
from engine.loading import parse_execution
from engine.planning import plan_execution
from tests.local.conftest import nodes_by_name

TEST_FILE = """\
from pathlib import Path

def test_needs_the_prepared_workspace():
    assert Path("setup-ran.txt").exists(), "setup-env's work is missing"
    assert Path("/flags/flag").exists(), "not yet"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "test_ws.py").write_text(TEST_FILE)
    (tmp_path / "flags").mkdir()
    return root


def _compiled(project: Path, flags: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The workflow and its ConfigMaps, with ``flags`` mounted at /flags in the workers."""
    execution = parse_execution(
        {
            "name": "claims",
            "project": {
                "name": "ws",
                "path": str(project),
                "image": "local",
                "setup": [[sys.executable, "-c", "open('setup-ran.txt', 'a').write('ran')"]],
            },
            "defaults": {"pod_retries": 0},
            "flows": [
                {
                    "name": "only",
                    "groups": [
                        {
                            "name": "one",
                            "scenarios": [{"id": "test_ws.py::test_needs_the_prepared_workspace"}],
                        }
                    ],
                }
            ],
        }
    )
    compiled = compile_plan(plan_execution(execution))
    workflow = compiled.workflow_dict()
    # The test's own switch, outside the workspace: the worker sees /flags/flag once it exists.
    workflow["spec"]["volumes"].append({"name": "flags", "hostPath": {"path": str(flags)}})
    for template in workflow["spec"]["templates"]:
        if template["name"] == "worker":
            template["container"]["volumeMounts"].append({"name": "flags", "mountPath": "/flags"})
    return workflow, compiled.configmaps


def _submit(backend: LocalBackend, project: Path, flags: Path) -> str:
    workflow, configmaps = _compiled(project, flags)
    return backend.submit(workflow, objects=configmaps, wait=True)


def test_defect_4_pvc_workspace_survives_retry_and_memoized_resubmit(
    backend: LocalBackend, project: Path, tmp_path: Path
) -> None:
    """Argo: ``deletePVCs`` (workflow/controller/operator.go) keeps OnWorkflowSuccess claims of
    a Failed workflow; ``createNewRetryWorkflow`` (workflow/util/util.go) empties
    ``status.persistentVolumeClaims`` and ``createPVCs`` reuses the claim the workflow owns.
    ``FormulateResubmitWorkflow`` with ``memoized`` renames the workflow (a new claim) and
    turns setup-env's succeeded pod into a Skipped node, so a worker must prepare it."""
    name = _submit(backend, project, tmp_path / "flags")
    failed = backend.get(name)
    assert failed["status"]["phase"] == "Failed"
    claim = backend.store.claim_dir(name, "workspace")
    assert (claim / "setup-ran.txt").read_text() == "ran"  # kept for a retry

    (tmp_path / "flags" / "flag").write_text("now it passes")
    resubmitted = backend.resubmit(name, memoized=True, wait=True)
    again = backend.get(resubmitted)
    assert again["status"]["phase"] == "Succeeded", again["status"].get("message")
    setup = nodes_by_name(again)[f"{resubmitted}.setup-env(0)"]
    original = nodes_by_name(failed)[f"{name}.setup-env(0)"]["id"]
    assert (setup["type"], setup["phase"]) == ("Skipped", "Skipped")  # not run again
    assert setup["message"] == f"original pod: {original}"
    worker_logs = "".join(
        backend.store.log_path(resubmitted, node["id"]).read_text()
        for node in again["status"]["nodes"].values()
        if node["type"] == "Pod" and "one(" in node["name"]
    )
    assert "was never prepared" in worker_logs
    assert not backend.store.claim_dir(resubmitted, "workspace").exists()  # deleted: Succeeded

    backend.retry(name, wait=True)
    retried = backend.get(name)
    assert retried["status"]["phase"] == "Succeeded", retried["status"].get("message")
    assert not claim.exists()


def test_a_succeeded_workflow_is_first_seen_with_its_claim_deleted(
    backend: LocalBackend, project: Path, tmp_path: Path
) -> None:
    """Argo's ``operate`` calls ``deletePVCs`` before its deferred ``persistUpdates`` writes the
    completed workflow (workflow/controller/operator.go): a reader never finds a Succeeded
    workflow whose OnWorkflowSuccess claim is still there."""
    (tmp_path / "flags" / "flag").write_text("passes")
    workflow, configmaps = _compiled(project, tmp_path / "flags")
    for configmap in configmaps:
        backend.apply(configmap)
    claim_when_seen: list[bool] = []

    def watch(update: dict[str, Any]) -> None:
        if update["status"].get("phase") == "Succeeded":
            claim = backend.store.claim_dir(update["metadata"]["name"], "workspace")
            claim_when_seen.append(claim.exists())

    finished = backend.run(workflow, on_update=watch)
    assert finished["status"]["phase"] == "Succeeded", finished["status"].get("message")
    assert claim_when_seen == [False]


def test_a_deleted_claims_files_are_freed_after_the_completed_workflow_is_written(
    backend: LocalBackend, project: Path, tmp_path: Path
) -> None:
    """``deletePVCs`` only asks for the claim's deletion; Kubernetes frees the volume later. The
    claim is gone when the completed workflow is written, its files once the runner is done."""
    (tmp_path / "flags" / "flag").write_text("passes")
    workflow, configmaps = _compiled(project, tmp_path / "flags")
    for configmap in configmaps:
        backend.apply(configmap)
    discarded = backend.store.root / "discarded"
    seen_when_completed: list[list[str]] = []

    def watch(update: dict[str, Any]) -> None:
        if update["status"].get("phase") == "Succeeded":
            held = [p.name for p in discarded.iterdir()] if discarded.exists() else []
            seen_when_completed.append(held)

    finished = backend.run(workflow, on_update=watch)
    assert finished["status"]["phase"] == "Succeeded", finished["status"].get("message")
    [held] = seen_when_completed
    assert len(held) == 1 and held[0].startswith("workspace-")  # moved aside, not yet freed
    assert not any(discarded.iterdir())
    assert (project / "test_ws.py").read_text() == TEST_FILE  # the project itself is untouched


def test_a_failed_runs_workspace_is_kept_in_memory_for_a_retry(
    backend: LocalBackend, project: Path, tmp_path: Path
) -> None:
    """Where the local runner keeps claims in memory (``memory_claims``), a claim kept for a
    retry stays there until its workflow goes."""
    if not TMPFS.is_dir():
        pytest.skip("no /dev/shm on this machine")
    name = _submit(backend, project, tmp_path / "flags")  # fails: the flag is missing
    assert backend.get(name)["status"]["phase"] == "Failed"
    claim = backend.store.claim_dir(name, "workspace")
    assert claim.is_symlink() and Path(os.readlink(claim)).is_relative_to(TMPFS)
    assert (claim / "setup-ran.txt").read_text() == "ran"  # setup-env prepared it there
    target = Path(os.readlink(claim))
    backend.store.delete(name)
    assert not target.exists()
