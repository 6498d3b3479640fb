"""Reading and controlling workflows, and their logs, against the swagger-only fake."""

from __future__ import annotations

import threading

import pytest

from engine.backends.argo import ArgoBackend, resubmitted_from
from engine.backends.base import Backend
from engine.compiler import CompiledExecution
from engine.errors import NotFound, SpecError
from tests.argo_backend.fake_argo import FakeArgo, Stored


def _request_bodies(fake: FakeArgo, suffix: str) -> list[dict[str, object]]:
    return [body for method, path, _, body in fake.requests if path.endswith(suffix)]


def test_backend_satisfies_the_protocol(backend: ArgoBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.kind == "argo"


def test_get_and_list(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    fake, _ = argo
    name = backend.submit(shop.workflow_dict())
    fake.put_workflow({"metadata": {"name": "foreign"}, "spec": {"entrypoint": "x"}})
    assert backend.get(name)["metadata"]["name"] == name
    assert [w["metadata"]["name"] for w in backend.list()] == [name]  # Drover's only
    assert len(backend.list(labels={})) == 2
    assert backend.list(labels={"drover.dev/run-id": "nope"}) == []
    with pytest.raises(NotFound):
        backend.get("missing")
    with pytest.raises(SpecError):
        backend.get("../../etc")


def test_list_pages_through_many_workflows(
    backend: ArgoBackend, argo: tuple[FakeArgo, str]
) -> None:
    """Past the first page on v4 too, whose server counts live workflows toward ``continue``
    only when ``ext.showRemainingItemCount`` asks it to (the fake models v4's ListWorkflows)."""
    fake, _ = argo
    labels = {"app.kubernetes.io/managed-by": "drover"}
    for i in range(1203):
        meta = {"name": f"wf-{i}", "labels": labels, "resourceVersion": "1"}
        fake.workflows[f"wf-{i}"] = Stored({"metadata": meta, "spec": {}})
    assert len(backend.list()) == 1203
    pages = [q for m, p, q, _ in fake.requests if p.endswith("/workflows/drover")]
    assert len(pages) == 3 and pages[1]["listOptions.continue"] == ["500"]
    assert all(q["listOptions.fieldSelector"] == ["ext.showRemainingItemCount=true"] for q in pages)


def test_every_action_reaches_its_endpoint_with_a_valid_body(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    fake, _ = argo
    name = backend.submit(shop.workflow_dict())

    backend.suspend(name)
    assert fake.workflows[name].obj["spec"]["suspend"] is True
    backend.resume(name)
    assert "suspend" not in fake.workflows[name].obj["spec"]
    backend.stop(name, message="stopped from Drover")
    assert fake.workflows[name].obj["spec"]["shutdown"] == "Stop"
    assert _request_bodies(fake, "/stop")[-1]["message"] == "stopped from Drover"
    backend.terminate(name)
    assert fake.workflows[name].obj["spec"]["shutdown"] == "Terminate"
    backend.retry(name, restart_successful=True, node_field_selector="templateName=worker")
    assert _request_bodies(fake, "/retry")[-1] == {
        "name": name,
        "namespace": "drover",
        "restartSuccessful": True,
        "nodeFieldSelector": "templateName=worker",
    }
    new = backend.resubmit(name, memoized=True)
    assert _request_bodies(fake, "/resubmit")[-1]["memoized"] is True
    assert resubmitted_from(backend.get(new)) == name
    assert backend.get(new)["metadata"]["labels"]["drover.dev/run-id"] == "run-1"
    backend.delete(name)
    assert name not in fake.workflows
    with pytest.raises(NotFound):
        backend.suspend(name)
    assert {
        "WorkflowService_SuspendWorkflow", "WorkflowService_ResumeWorkflow",
        "WorkflowService_StopWorkflow", "WorkflowService_TerminateWorkflow",
        "WorkflowService_RetryWorkflow", "WorkflowService_ResubmitWorkflow",
        "WorkflowService_DeleteWorkflow",
    } <= fake.used  # fmt: skip


def test_resubmitted_from_reads_label_or_annotation() -> None:
    key = "workflows.argoproj.io/resubmitted-from-workflow"
    assert resubmitted_from({"metadata": {"labels": {key: "a"}}}) == "a"
    assert resubmitted_from({"metadata": {"annotations": {key: "b"}}}) == "b"
    assert resubmitted_from({"metadata": {}}) is None
    assert resubmitted_from({}) is None


def test_logs_stream_line_by_line_with_multi_line_output(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    fake, _ = argo
    name = backend.submit(shop.workflow_dict())
    pod = f"{name}-worker-1234567"
    fake.add_log(name, pod, "first line")
    fake.add_log(name, pod, '{"looks": "like json"}')
    fake.add_log(name, f"{name}-setup-env-42", "setup done")
    lines = list(backend.logs(name))
    assert [line.content for line in lines] == [
        "first line",
        '{"looks": "like json"}',
        "setup done",
    ]
    assert lines[0].pod == f"{name}-1234567"  # the node id
    assert lines[0].time == "2026-01-01T00:00:00.000000001Z"


def test_logs_of_one_node_ask_for_its_pod(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    from engine.backends.argo.pod_names import _fnv1a_32

    fake, _ = argo
    name = backend.submit(shop.workflow_dict())
    node_name = f"{name}.setup-env"
    node_id = f"{name}-{_fnv1a_32(node_name)}"
    fake.update_status(
        name,
        nodes={
            node_id: {"id": node_id, "name": node_name, "type": "Pod", "templateName": "setup-env"}
        },
    )
    pod = f"{name}-setup-env-{_fnv1a_32(node_name)}"
    fake.add_log(name, pod, "mine")
    fake.add_log(name, f"{name}-worker-1", "not mine")
    assert [line.content for line in backend.logs(name, node=node_id)] == ["mine"]
    assert [q["podName"] for m, p, q, _ in fake.requests if p.endswith("/log")] == [[pod]]
    with pytest.raises(NotFound):
        list(backend.logs(name, node="nope"))


def test_logs_of_a_retried_worker_named_by_its_retry_node_or_display_name(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    """A worker's Retry node has no pod: its attempts do, each asked for by its own pod name,
    first attempt first; its display name finds them as its id does."""
    from engine.backends.argo.pod_names import _fnv1a_32

    fake, _ = argo
    name = backend.submit(shop.workflow_dict())
    retry_name = f"{name}.checkout.worker(0:0)"
    retry_id = f"{name}-{_fnv1a_32(retry_name)}"
    attempts = [f"{retry_name}({i})" for i in range(2)]
    nodes = {
        retry_id: {
            "id": retry_id, "name": retry_name, "displayName": "worker(0:0)", "type": "Retry",
            "templateName": "worker", "children": [f"{name}-{_fnv1a_32(a)}" for a in attempts],
        },
        **{
            f"{name}-{_fnv1a_32(a)}": {
                "id": f"{name}-{_fnv1a_32(a)}", "name": a, "displayName": f"worker(0:0)({i})",
                "type": "Pod", "templateName": "worker", "startedAt": f"2026-01-01T00:0{i}:00Z",
            }
            for i, a in enumerate(attempts)
        },
    }  # fmt: skip
    fake.update_status(name, nodes=nodes)
    pods = [f"{name}-worker-{_fnv1a_32(a)}" for a in attempts]
    fake.add_log(name, pods[1], "second attempt")
    fake.add_log(name, pods[0], "first attempt")
    fake.add_log(name, f"{name}-setup-env-1", "not a worker's")
    for query in (retry_id, "worker(0:0)", retry_name):
        lines = [line.content for line in backend.logs(name, node=query)]
        assert lines == ["first attempt", "second attempt"]
    asked = [q["podName"] for m, p, q, _ in fake.requests if p.endswith("/log")]
    assert asked[:2] == [[pods[0]], [pods[1]]]


def test_follow_waits_for_new_lines_until_the_stream_ends(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    fake, _ = argo
    name = backend.submit(shop.workflow_dict())
    fake.add_log(name, f"{name}-worker-1", "one")

    def later() -> None:
        fake.add_log(name, f"{name}-worker-1", "two")
        fake.close_logs(name)

    timer = threading.Timer(0.3, later)
    timer.start()
    assert [line.content for line in backend.logs(name, follow=True)] == ["one", "two"]
    timer.join()
