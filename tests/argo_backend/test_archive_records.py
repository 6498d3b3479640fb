"""Issue 12 defect 15: after a watch gap, the archive's list records (no resourceVersion, no
nodes) neither finish a run nor stand for its workers.

The fake Argo Server lists archived workflows as Argo does (workflow_server.go ListWorkflows
appends persist/sqldb/workflow_archive.go ListWorkflows' records to the live ones) and answers
a get from the archive when the cluster no longer has the workflow (workflow_server.go
getWorkflow)."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import RunWorker
from engine.backends.argo.watch import WatchState
from engine.backends.base import WorkflowEvent
from engine.status import is_archive_record
from tests.api.conftest import AUTH, database_url, postgres_url  # noqa: F401
from tests.api.tokens import kube_worker_token, token_ref
from tests.argo_backend import test_service_argo as service_argo
from tests.argo_backend.conftest import NAMESPACE, ROOT
from tests.argo_backend.fake_argo import archive_record
from tests.argo_backend.fake_kube import FakeKube
from tests.argo_backend.test_service_argo import (
    ArtifactArgo,
    _eventually,
    _finish,
    _publish_results,
    _run,
    _sessions,
    _shop_execution,
    _workers,
    controller_status,
)

argo, client = service_argo.argo, service_argo.client


def _workflow(name: str, version: str, phase: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "resourceVersion": version, "labels": {}},
        "status": {"phase": phase, "nodes": {name: {"id": name, "phase": phase}}},
    }


def test_an_archive_record_never_hides_the_live_workflow() -> None:
    live = _workflow("w", "7", "Succeeded")
    archived = archive_record(live)
    assert is_archive_record(archived) and not is_archive_record(live)
    for listed in ([live, archived], [archived, live]):  # Argo's page sort is not stable
        state = WatchState()
        events = state.resync(listed, "ns")
        assert [e.workflow for e in events] == [live]
        assert state.resync(listed, "ns") == []


def test_an_archive_record_of_a_workflow_gone_from_the_cluster_is_reported_once() -> None:
    state = WatchState()
    state.resync([_workflow("w", "7", "Running")], "ns")
    archived = archive_record(_workflow("w", "9", "Succeeded"))
    (event,) = state.resync([archived], "ns")
    assert (event.type, event.workflow) == ("MODIFIED", archived)
    assert state.resync([archived], "ns") == []  # not again at every resync
    assert [e.type for e in state.resync([], "ns")] == ["DELETED"]  # the archive forgot it


def test_defect_15_an_archive_record_does_not_finalise_a_run_or_mark_its_workers_read(
    client: TestClient, argo: tuple[ArtifactArgo, str]
) -> None:
    """The run's workflow finished, was archived and deleted (ttlStrategy) while the watch was
    away; the relist holds only the archive's record. The mirror reads the whole workflow
    from the archive instead, and ingests every worker's results."""
    fake, _ = argo
    execution_id = _shop_execution(client)
    started = client.post(f"/api/v1/executions/{execution_id}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run = started.json()
    name = run["workflow_name"]
    workers = _workers(client, run["id"])
    failing = workers[0]
    for group, shard in workers:
        _publish_results(
            fake, name, group, shard, "failed" if (group, shard) == failing else "passed"
        )
    final = controller_status(
        name, workers, lambda g, s: "Failed" if (g, s) == failing else "Succeeded"
    )
    with fake.lock:  # during the watch gap: no events
        stored = fake.workflows[name]
        stored.obj.setdefault("status", {}).update(copy.deepcopy(final))
        stored.obj["metadata"]["resourceVersion"] = str(fake._next_version())
    fake.archive_workflow(name, quietly=True)
    with fake.lock:
        del fake.workflows[name]
    listed = [w for w in _listed(client) if w["metadata"]["name"] == name]
    assert len(listed) == 1 and is_archive_record(listed[0])

    service = client.app.state.service  # type: ignore[attr-defined]
    service.mirror.on_event("argo", service.backends["argo"], WorkflowEvent("MODIFIED", listed[0]))
    row = _run(client, run["id"])
    assert (row.phase, row.failed, row.passed) == ("Failed", 1, len(workers) - 1)
    with _sessions(client)() as session:
        unread = session.scalars(
            select(RunWorker).where(
                RunWorker.run_id == run["id"], RunWorker.results_read.is_(False)
            )
        ).all()
    assert unread == []


def _listed(client: TestClient) -> list[dict[str, Any]]:
    backend = client.app.state.service.backends["argo"]  # type: ignore[attr-defined]
    page = backend.server.request("GET", f"api/v1/workflows/{backend.namespace}", what="list")
    items: list[dict[str, Any]] = page.get("items") or []
    return items


def _plan_configmaps(kube: FakeKube) -> dict[str, list[str]]:
    """Plan ConfigMap name → the uids of its owners."""
    return {
        obj["metadata"]["name"]: [o["uid"] for o in obj["metadata"].get("ownerReferences", [])]
        for obj in kube.objects.values()
        if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"].startswith("drover-plan-")
    }


def test_defect_16_retry_and_resubmit_from_the_archive_find_the_plan(
    client: TestClient, argo: tuple[ArtifactArgo, str], kube: tuple[FakeKube, str]
) -> None:
    """Plan ConfigMaps are owned by their workflow, so Kubernetes deletes them with it
    (ttlStrategy: 7 days); the archive keeps the workflow 30. A retry from the archive
    re-creates it under the same name with a new uid (archived_workflow_server.go
    RetryArchivedWorkflow), a resubmit under a new name (ResubmitArchivedWorkflow); both
    mount the plan. The mirror, seeing either, puts the run's plan back from Postgres, and the
    workers' token Secret (their agents' ``secretKeyRef`` is not optional: without it the
    kubelet never starts them) with a new token of the run."""
    fake, _ = argo
    run = _start_shop_run(client, "shop-archive")
    name = run["workflow_name"]
    workers = _workers(client, run["id"])
    _finish(fake, name, workers, failing=0)
    assert _eventually(lambda: run["id"] not in _mirror(client).followed)
    uid = fake.workflows[name].obj["metadata"]["uid"]
    planned = {n for n, owners in _plan_configmaps(kube[0]).items() if owners == [uid]}
    assert planned
    crons = {c["metadata"]["uid"] for c in fake.crons.values()}  # the schedule's stay

    fake.archive_workflow(name)
    fake.remove_workflow(name)  # ttlStrategy
    kube[0].collect_garbage(live_uids=crons)  # the plan went with its owner
    assert not planned & set(_plan_configmaps(kube[0]))

    server = _mirror_backend(client).server
    server.request("PUT", f"api/v1/archived-workflows/{uid}/retry", what="retry",
                   body={"uid": uid, "namespace": NAMESPACE})  # fmt: skip
    new_uid = fake.workflows[name].obj["metadata"]["uid"]
    assert new_uid != uid
    restored = _eventually(lambda: _owned_by(kube[0], new_uid))
    assert restored == planned
    workflow = fake.workflows[name].obj

    def owners_of_token_secret() -> list[str]:
        secret = kube[0].objects.get(("Secret", NAMESPACE, token_ref(workflow)["name"])) or {}
        return [o["uid"] for o in secret.get("metadata", {}).get("ownerReferences", [])]

    assert _eventually(owners_of_token_secret) == [new_uid]
    token = kube_worker_token(workflow, lambda n: kube[0].objects.get(("Secret", NAMESPACE, n)))
    opened = client.get(f"/api/v1/runs/{run['id']}", headers={"Authorization": f"Bearer {token}"})
    assert opened.status_code != 401, opened.text  # a token of this run, not a stranger's

    fake.remove_workflow(name)
    kube[0].collect_garbage(live_uids=crons)
    server.request("PUT", f"api/v1/archived-workflows/{uid}/resubmit", what="resubmit",
                   body={"uid": uid, "namespace": NAMESPACE})  # fmt: skip
    (resubmitted,) = [w for w in fake.workflows if w.startswith(f"{name}-")]
    owner = fake.workflows[resubmitted].obj["metadata"]["uid"]
    assert _eventually(lambda: _owned_by(kube[0], owner)) == planned


def _finished_and_archived(
    client: TestClient, fake: ArtifactArgo, kube: FakeKube, hold_watch: bool
) -> tuple[dict[str, Any], str, set[str], dict[str, Any]]:
    """A finished run whose workflow only the archive has (ttlStrategy deleted it, and its plan
    with it; the watch held from before the deletion when ``hold_watch``): the run, the
    workflow's uid, its plan ConfigMaps and the archived copy."""
    run = _start_shop_run(client, "shop-archive")
    name = run["workflow_name"]
    _finish(fake, name, _workers(client, run["id"]), failing=0)
    assert _eventually(lambda: run["id"] not in _mirror(client).followed)
    uid = fake.workflows[name].obj["metadata"]["uid"]
    planned = _owned_by(kube, uid)
    fake.archive_workflow(name)
    archived = copy.deepcopy(fake.workflows[name].obj)
    # Argo's times have whole seconds, and a retry restamps status.startedAt: on a cluster the
    # retry comes at least the ttlStrategy's wait after the start, in a later second, which is
    # what tells the mirror a copy of the earlier incarnation from one of the retried.
    started = datetime.fromisoformat(archived["status"]["startedAt"].replace("Z", "+00:00"))
    while datetime.now(UTC) < started + timedelta(seconds=1):
        time.sleep(0.05)
    fake.hold_watch(hold_watch)
    fake.remove_workflow(name)
    kube.collect_garbage(live_uids={c["metadata"]["uid"] for c in fake.crons.values()})
    return run, uid, planned, archived


@pytest.mark.parametrize("watch", ["prompt", "late"])
def test_defect_16_drover_retries_a_run_whose_workflow_only_the_archive_has(
    client: TestClient, argo: tuple[ArtifactArgo, str], kube: tuple[FakeKube, str], watch: str
) -> None:
    """Argo's RetryWorkflow reads an archived workflow but can only update a live one
    (server/workflow/workflow_server.go: getWorkflow, then Update → 404); Drover's retry then
    asks RetryArchivedWorkflow, and the mirror puts the plan back for the new incarnation.

    A ``late`` watch delivers the ttlStrategy's deletion only after the retry re-created the
    workflow under the same name (a rehearsal met this under load): that deletion is of the
    earlier incarnation, so the run goes on (one new attempt, not Error)."""
    fake, _ = argo
    run, _, planned, archived = _finished_and_archived(client, fake, kube[0], watch == "late")
    name = run["workflow_name"]

    retried = client.post(f"/api/v1/runs/{run['id']}/retry", headers=AUTH)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["phase"], retried.json()["finished_at"]) == ("Running", None)
    # The earlier incarnation's last copy (the archiving's update), delivered after the retry
    # is recorded: from before the retry, it neither ends the run again nor counts an attempt.
    mirror = _mirror(client)
    with mirror._apply_lock:  # as a watch event is applied, between the resync's
        assert mirror.apply(run["id"], archived, _mirror_backend(client)) is False
    assert (_run(client, run["id"]).phase, _run(client, run["id"]).attempt) == ("Running", 2)
    fake.hold_watch(False)
    assert "ArchivedWorkflowService_RetryArchivedWorkflow" in fake.used
    new_uid = fake.workflows[name].obj["metadata"]["uid"]
    assert _eventually(lambda: _owned_by(kube[0], new_uid)) == planned
    assert _eventually(lambda: _run(client, run["id"]).workflow_uid == new_uid)
    now = _run(client, run["id"])
    assert (now.phase, now.attempt) == ("Running", 2), now.message


def test_defect_16_a_retry_read_before_it_is_recorded_still_gets_its_plan(
    client: TestClient, argo: tuple[ArtifactArgo, str], kube: tuple[FakeKube, str]
) -> None:
    """An operator retries the archived workflow (the Argo UI: RetryArchivedWorkflow re-creates
    it under the same name, with a new uid) and a resync reads the new incarnation before the
    watch's event records the retry. That copy is not the finished run's state and changes
    nothing; nor may it hide the new uid from the copy that follows the record, which puts the
    plan back (a rehearsal under load lost it this way)."""
    fake, _ = argo
    run, uid, planned, _ = _finished_and_archived(client, fake, kube[0], hold_watch=False)
    name = run["workflow_name"]
    assert _eventually(lambda: not _owned_by(kube[0], uid))
    ended = _run(client, run["id"])

    fake.hold_watch(True)
    server = _mirror_backend(client).server
    server.request("PUT", f"api/v1/archived-workflows/{uid}/retry", what="retry",
                   body={"uid": uid, "namespace": NAMESPACE})  # fmt: skip
    new_uid = fake.workflows[name].obj["metadata"]["uid"]
    early = copy.deepcopy(fake.workflows[name].obj)
    mirror = _mirror(client)
    with mirror._apply_lock:
        assert mirror.apply(run["id"], early, _mirror_backend(client)) is False
    assert (_run(client, run["id"]).phase, _run(client, run["id"]).attempt) == (
        ended.phase,
        ended.attempt,
    )  # not retried yet, as far as the mirror knows
    fake.hold_watch(False)

    assert _eventually(lambda: _owned_by(kube[0], new_uid)) == planned
    assert _eventually(lambda: _run(client, run["id"]).workflow_uid == new_uid)
    assert _run(client, run["id"]).attempt == ended.attempt + 1


def test_a_run_whose_workflow_is_deleted_before_it_finished_ends_in_error(
    client: TestClient, argo: tuple[ArtifactArgo, str]
) -> None:
    fake, _ = argo
    run = _start_shop_run(client, "shop-deleted")
    assert _eventually(lambda: run["id"] in _mirror(client).followed)

    running = copy.deepcopy(fake.workflows[run["workflow_name"]].obj)
    fake.remove_workflow(run["workflow_name"])  # `argo delete` of a running workflow

    assert _eventually(lambda: _run(client, run["id"]).phase == "Error")
    assert _eventually(lambda: run["id"] not in _mirror(client).followed)
    # A resync that read the workflow just before the deletion applies its copy just after
    # (a rehearsal met this): the run stays ended, with its reason.
    _mirror(client).apply(run["id"], running, _mirror_backend(client))
    ended = _run(client, run["id"])
    assert ended.phase == "Error"
    assert "was deleted before it finished" in (ended.message or "")


def _start_shop_run(client: TestClient, prefix: str) -> dict[str, Any]:
    """The shop example as a new execution of a git project (no schedule), started."""
    spec = yaml.safe_load((ROOT / "examples" / "shop" / "execution.yaml").read_text())
    spec["name"] = f"{prefix}-{time.monotonic_ns() % 10**8}"
    spec["project"].pop("path")
    spec["project"]["repo"] = "https://git.example.com/shop.git"
    spec.pop("schedule")  # a schedule's CronWorkflow would co-own (and keep) the plan
    created = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    started = client.post(f"/api/v1/executions/{created.json()['id']}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run: dict[str, Any] = started.json()
    return run


def _owned_by(kube: FakeKube, uid: str) -> set[str]:
    return {n for n, owners in _plan_configmaps(kube).items() if owners == [uid]}


def _mirror(client: TestClient) -> Any:
    return client.app.state.service.mirror  # type: ignore[attr-defined]


def _mirror_backend(client: TestClient) -> Any:
    return client.app.state.service.backends["argo"]  # type: ignore[attr-defined]


def test_defect_4_on_argo_a_retried_run_keeps_its_prepared_workspace_claim(
    client: TestClient, argo: tuple[ArtifactArgo, str], tmp_path: Any
) -> None:
    """The fake controller's ``createPVCs``/``deletePVCs`` (operator.go) and the server's
    ``createNewRetryWorkflow`` (workflow/util/util.go, which empties
    ``status.persistentVolumeClaims``): with the compiled ``OnWorkflowSuccess`` a failed run's
    claim survives, its retry reuses it (no new, empty volume under a Succeeded setup-env),
    and success deletes it. ``OnWorkflowCompletion``, compiled before, lost it."""
    from engine.backends.argo import ArgoBackend
    from tests.argo_backend.conftest import settings_for

    fake, url = argo
    execution_id = _shop_execution(client)
    run = client.post(f"/api/v1/executions/{execution_id}/run", headers=AUTH).json()
    name = run["workflow_name"]
    claim = f"{name}-workspace"
    assert fake.claims_created == [claim]
    workers = _workers(client, run["id"])
    _finish(fake, name, workers, failing=0)
    assert claim in fake.claims  # Failed: kept for a retry
    ArgoBackend(settings_for(url, tmp_path)).retry(name)
    status = fake.workflows[name].obj["status"]
    assert status["persistentVolumeClaims"][0]["persistentVolumeClaim"]["claimName"] == claim
    assert fake.claims_created == [claim]  # reused, not created again
    _finish(fake, name, workers, failing=None)
    assert claim not in fake.claims  # Succeeded: deleted

    # What the old OnWorkflowCompletion did: the claim goes with the failure, a retry
    # creates a new, empty one while setup-env stays Succeeded.
    old = copy.deepcopy(fake.workflows[name].obj)
    old["metadata"] = {"name": "old-style", "labels": {}}
    old["spec"]["volumeClaimGC"] = {"strategy": "OnWorkflowCompletion"}
    old.pop("status")
    fake.put_workflow(old)
    fake.update_status("old-style", phase="Failed")
    assert "old-style-workspace" not in fake.claims
    ArgoBackend(settings_for(url, tmp_path)).retry("old-style")
    assert fake.claims_created[-2:] == ["old-style-workspace", "old-style-workspace"]
