"""The machine as one Kubernetes node: pods wait Pending for CPU, in priority order, across the
runner processes of every workflow under one DROVER_HOME (engine/backends/local/machine.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.machine import (
    CPUS_ENV,
    MachineNode,
    PodRequest,
    QuantityError,
    machine_cpus,
    parse_cpu,
    pod_cpu_request,
)
from engine.errors import SpecError
from tests.local.conftest import nodes_by_name
from tests.local.test_control import _wait_for

UNSCHEDULABLE = "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu."


def _pod(name: str, cpu: str | None, script: str, **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "image": "alpine",
        "command": ["sh", "-c", script],
        "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
    }
    if cpu is not None:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {"name": name, "container": container, **extra}


def _workflow(
    prefix: str,
    shared: Path,
    pods: list[dict[str, Any]],
    *,
    priority: int | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A DAG running every template of ``pods`` at once (tasks named like the templates)."""
    tasks = [{"name": p["name"], "template": p["name"]} for p in pods]
    body: dict[str, Any] = {
        "entrypoint": "main",
        "templates": [{"name": "main", "dag": {"tasks": tasks}}, *pods],
        "volumes": [{"name": "shared", "hostPath": {"path": str(shared)}}],
        **spec,
    }
    if priority is not None:
        body["priority"] = priority
    return {"metadata": {"generateName": f"{prefix}-"}, "spec": body}


def _node(backend: LocalBackend, name: str, task: str) -> dict[str, Any]:
    return nodes_by_name(backend.store.load(name)).get(f"{name}.{task}", {})


def _queued(backend: LocalBackend, name: str, task: str) -> bool:
    node = _node(backend, name, task)
    return node.get("phase") == "Pending" and node.get("message") == UNSCHEDULABLE


def _blocker(backend: LocalBackend, shared: Path, cpu: str = "1") -> str:
    """A workflow holding ``cpu`` until ``shared/go`` exists; returns once its pod runs."""
    wait = "while [ ! -e /shared/go ]; do sleep 0.05; done"
    name = backend.submit(_workflow("blocker", shared, [_pod("hold", cpu, wait)]))
    _wait_for(lambda: _node(backend, name, "hold").get("phase") == "Running")
    return name


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """The pods' shared directory; ``go`` in it releases every blocker, at the latest when
    the test ends (so a failing test leaves no runner waiting)."""
    directory = tmp_path / "shared"
    directory.mkdir()
    yield directory
    (directory / "go").touch()


@pytest.fixture
def one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CPUS_ENV, "1")


# ---------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("quantity", "milli"),
    [
        ("500m", 500),
        ("1", 1000),
        ("1.5", 1500),
        (2, 2000),
        (0.25, 250),
        ("1e0", 1000),
        ("1k", 10**6),
        ("0.0001", 1),
        ("1Ki", 1024 * 1000),
        ("1Ei", 1024**6 * 1000),  # exbi, not an exponent
        ("2E3", 2 * 10**6),
    ],
)
def test_cpu_quantities(quantity: object, milli: int) -> None:
    assert parse_cpu(quantity) == milli


@pytest.mark.parametrize("quantity", ["one", "1.5.2", "", "-1", "1 cpu"])
def test_bad_cpu_quantities(quantity: str) -> None:
    with pytest.raises(QuantityError):
        parse_cpu(quantity)


def test_pod_request_like_kubernetes() -> None:
    assert pod_cpu_request({"container": {"image": "a"}}) == 0
    assert pod_cpu_request({"script": {"resources": {"requests": {"cpu": "250m"}}}}) == 250
    # only a limit: the request defaults to it
    assert pod_cpu_request({"container": {"resources": {"limits": {"cpu": "2"}}}}) == 2000
    template = {
        "container": {"resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "3"}}},
        "sidecars": [{"name": "s", "resources": {"requests": {"cpu": "500m"}}}],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1200m"}}}],
    }
    assert pod_cpu_request(template) == 1500
    template["initContainers"][0]["resources"]["requests"]["cpu"] = "4"
    assert pod_cpu_request(template) == 4000
    containers = [{"name": "a", "resources": {"requests": {"cpu": "1"}}}, {"name": "b"}]
    assert pod_cpu_request({"containerSet": {"containers": containers}}) == 1000


def test_capacity_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CPUS_ENV, "2500m")
    assert machine_cpus() == 2500
    monkeypatch.setenv(CPUS_ENV, "lots")
    with pytest.raises(SpecError, match=CPUS_ENV):
        machine_cpus()
    monkeypatch.delenv(CPUS_ENV)
    assert machine_cpus() <= 1000 * len(os.sched_getaffinity(0))
    assert machine_cpus() >= 1


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_queue_order_and_dead_runners(tmp_path: Path) -> None:
    """Higher workflow priority first, then the older workflow, then queue order; a pod that
    does not fit is passed over; entries of a dead runner are dropped by the next pass."""
    me = MachineNode(tmp_path, capacity=2000)
    dead = MachineNode(tmp_path, capacity=2000, pid=_dead_pid())
    # A runner that held the whole node, then died.
    assert dead.sync("gone", request=[PodRequest("gone", "gone-1", 2000)]) == {"gone-1"}
    queued = [
        PodRequest("new", "new-1", 1000, 0, "2024-01-01T00:00:02Z"),
        PodRequest("old", "old-1", 1000, 0, "2024-01-01T00:00:01Z"),
        PodRequest("old", "old-2", 1000, 0, "2024-01-01T00:00:01Z"),
        PodRequest("urgent", "urgent-1", 1500, 5, "2024-01-01T00:00:03Z"),
    ]
    me.sync("x", request=queued)
    bound = {p["node"] for p in me.pods() if p["bound"]}
    # urgent (1.5) first; old-1 (1) does not fit beside it, nor does anything else
    assert bound == {"urgent-1"}
    assert "gone-1" not in {p["node"] for p in me.pods()}
    assert me.sync("urgent", release=["urgent-1"]) == set()
    assert {p["node"] for p in me.pods() if p["bound"]} == {"old-1", "old-2"}
    assert me.sync("old", release=["old-1"]) == {"old-2"}
    assert {p["node"] for p in me.pods() if p["bound"]} == {"old-2", "new-1"}
    me.release_all("old")
    me.release_all("new")
    assert me.pods() == []


def test_compiled_workers_request_one_cpu(shop_execution_path: Path) -> None:
    from engine.compiler import compile_plan
    from engine.loading import load_execution
    from engine.planning import plan_execution

    workflow = compile_plan(plan_execution(load_execution(shop_execution_path))).workflow_dict()
    spec = workflow["spec"].get("workflowSpec", workflow["spec"])
    requests = {t["name"]: pod_cpu_request(t) for t in spec["templates"] if "container" in t}
    assert requests == {"setup-env": 1000, "worker": 1000, "cleanup": 0}


# ---------------------------------------------------------------------------- real runners


@pytest.mark.usefixtures("one_cpu")
def test_pending_while_the_node_is_full(backend: LocalBackend, shared: Path) -> None:
    blocker = _blocker(backend, shared)
    waiter = backend.submit(
        _workflow("waiter", shared, [_pod("work", "500m", "echo ran"), _pod("free", None, "true")])
    )
    _wait_for(lambda: _queued(backend, waiter, "work"))
    node = _node(backend, waiter, "work")
    assert "hostNodeName" not in node
    assert backend.get(waiter)["status"]["phase"] == "Running"
    # A pod that requests nothing fits however full the node is.
    _wait_for(lambda: _node(backend, waiter, "free").get("phase") == "Succeeded")
    (shared / "go").touch()
    for name in (blocker, waiter):
        assert backend.wait(name, timeout=60)["status"]["phase"] == "Succeeded"
    node = _node(backend, waiter, "work")
    assert "message" not in node and node["hostNodeName"]
    assert MachineNode(backend.store.root).pods() == []


@pytest.mark.usefixtures("one_cpu")
def test_priority_then_age_then_node_order(backend: LocalBackend, shared: Path) -> None:
    def recorder(task: str) -> dict[str, Any]:
        return _pod(task, "1", f"echo {task} >> /shared/order")

    blocker = _blocker(backend, shared)
    low = backend.submit(_workflow("low", shared, [recorder("low-a"), recorder("low-b")]))
    _wait_for(lambda: _queued(backend, low, "low-a") and _queued(backend, low, "low-b"))
    high = backend.submit(
        _workflow("high", shared, [recorder("high-a"), recorder("high-b")], priority=5)
    )
    later = backend.submit(_workflow("later", shared, [recorder("later-a")]))
    _wait_for(lambda: _queued(backend, high, "high-b") and _queued(backend, later, "later-a"))
    (shared / "go").touch()
    for name in (blocker, low, high, later):
        assert backend.wait(name, timeout=60)["status"]["phase"] == "Succeeded"
    order = (shared / "order").read_text().split()
    assert order == ["high-a", "high-b", "low-a", "low-b", "later-a"]


def test_capacity_is_never_exceeded(
    backend: LocalBackend, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CPUS_ENV, "2")
    stamp = 'echo "$1 $(date +%s%N) {cpu}" >> /shared/intervals'

    def timed(task: str, cpu: str) -> dict[str, Any]:
        script = f"{stamp.replace('$1', 'start')}; sleep 0.3; {stamp.replace('$1', 'end')}"
        return _pod(task, cpu, script.format(cpu=parse_cpu(cpu)))

    names = [
        backend.submit(
            _workflow(
                f"load{i}", shared, [timed("a", "1"), timed("b", "500m"), timed("c", "1500m")]
            )
        )
        for i in range(3)
    ]
    for name in names:
        assert backend.wait(name, timeout=120)["status"]["phase"] == "Succeeded"
    events = []
    for line in (shared / "intervals").read_text().splitlines():
        kind, stamp_ns, milli = line.split()
        events.append((int(stamp_ns), 0 if kind == "end" else 1, int(milli)))
    assert len(events) == 18
    in_use = peak = 0
    for _, starting, milli in sorted(events):
        in_use += milli if starting else -milli
        peak = max(peak, in_use)
    assert peak <= 2000


@pytest.mark.usefixtures("one_cpu")
def test_dead_runners_lease_is_reclaimed(backend: LocalBackend, shared: Path) -> None:
    import signal

    holder = _blocker(backend, shared)
    pid = backend.store.runner_pid(holder)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # its orphaned pod exits when the test ends (see ``shared``)
    after = backend.submit(_workflow("after", shared, [_pod("run", "1", "echo ran")]))
    assert backend.wait(after, timeout=60)["status"]["phase"] == "Succeeded"
    assert holder not in {p["workflow"] for p in MachineNode(backend.store.root).pods()}


@pytest.mark.usefixtures("one_cpu")
def test_terminate_removes_pending_pods_unstarted(backend: LocalBackend, shared: Path) -> None:
    """A pod larger than the node stays Pending (as on Kubernetes) and does not hold back a
    smaller one; terminating removes it without starting it."""
    pods = [_pod("huge", "2", "touch /shared/huge-ran"), _pod("small", "500m", "echo ok")]
    name = backend.submit(_workflow("huge", shared, pods))
    _wait_for(lambda: _node(backend, name, "small").get("phase") == "Succeeded")
    assert _queued(backend, name, "huge")
    backend.terminate(name)
    workflow = backend.wait(name, timeout=30)
    assert workflow["status"]["phase"] == "Failed"
    huge = nodes_by_name(workflow)[f"{name}.huge"]
    assert huge["phase"] == "Failed"
    assert huge["message"] == "Stopped with strategy 'Terminate'"
    assert "hostNodeName" not in huge and "resourcesDuration" not in huge
    assert not (shared / "huge-ran").exists()
    assert MachineNode(backend.store.root).pods() == []


@pytest.mark.usefixtures("one_cpu")
def test_deadlines_and_retries_of_pending_pods(backend: LocalBackend, shared: Path) -> None:
    blocker = _blocker(backend, shared)
    # activeDeadlineSeconds counts from the pod's start (the kubelet times it): queued first,
    # it waits longer than its deadline and still runs to the end.
    active = backend.submit(
        _workflow("active", shared, [_pod("run", "1", "echo ran", activeDeadlineSeconds=1)])
    )
    _wait_for(lambda: _queued(backend, active, "run"))
    late = backend.submit(
        _workflow(
            "late", shared, [_pod("run", "1", "touch /shared/late-ran")], activeDeadlineSeconds=1
        )
    )
    impatient = backend.submit(
        _workflow("impatient", shared, [_pod("run", "1", "true", pendingTimeout="1s")])
    )
    retried = backend.submit(
        _workflow(
            "retried",
            shared,
            [
                _pod(
                    "run",
                    "1",
                    "[ -e /shared/tried ] && exit 0; touch /shared/tried; exit 1",
                    retryStrategy={"limit": 2, "retryPolicy": "Always"},
                )
            ],
        )
    )
    late_wf = backend.wait(late, timeout=30)
    assert late_wf["status"]["phase"] == "Failed"
    node = nodes_by_name(late_wf)[f"{late}.run"]
    assert (node["phase"], node["message"]) == ("Failed", "Step exceeded its deadline")
    impatient_wf = backend.wait(impatient, timeout=30)
    node = nodes_by_name(impatient_wf)[f"{impatient}.run"]
    assert (node["phase"], node["message"]) == ("Failed", "timeout")
    assert "hostNodeName" not in node
    (shared / "go").touch()
    for name in (blocker, active, retried):
        assert backend.wait(name, timeout=60)["status"]["phase"] == "Succeeded"
    attempts = nodes_by_name(backend.get(retried))[f"{retried}.run"]["children"]
    assert len(attempts) == 2
    assert not (shared / "late-ran").exists()


def test_exit_handler_pods_outlive_the_workflow_deadline(backend: LocalBackend) -> None:
    """Argo's pod builder ignores the workflow's deadline for exit handler pods."""
    manifest = {
        "metadata": {"generateName": "deadline-exit-"},
        "spec": {
            "entrypoint": "main",
            "activeDeadlineSeconds": 1,
            "onExit": "bye",
            "templates": [
                {"name": "main", "container": {"image": "alpine", "command": ["sleep", "30"]}},
                {"name": "bye", "container": {"image": "alpine", "command": ["echo", "bye"]}},
            ],
        },
    }
    workflow = backend.run(manifest)
    name = workflow["metadata"]["name"]
    nodes = nodes_by_name(workflow)
    assert workflow["status"]["phase"] == "Failed"
    assert nodes[name]["phase"] == "Failed"
    assert nodes[f"{name}.onExit"]["phase"] == "Succeeded"
