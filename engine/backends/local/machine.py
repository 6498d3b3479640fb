"""This machine as one Kubernetes node: a CPU capacity every local runner shares.

On Kubernetes a pod stays ``Pending`` until the scheduler finds a node with room for its CPU
request; here the machine is the cluster's only node. Each runner (one process per workflow)
asks this module before it starts a pod, so twenty runs started at once queue for the cores
instead of starting every worker at once.

* **Requests.** A pod requests the sum of its containers' ``resources.requests.cpu`` (main
  container or ``containerSet`` containers, and sidecars; an init container's request when that
  is larger), as a Kubernetes quantity (``"500m"``, ``"1"``, ``"1.5"``). A container with only
  ``limits.cpu`` requests its limit, as Kubernetes defaults requests from limits. A pod that
  requests nothing fits always (the scheduler counts it as 0) and never waits; HTTP templates
  are no pods (Argo's agent makes the request) and never wait either.
* **Capacity.** ``DROVER_LOCAL_CPUS`` (a quantity: ``"4"``, ``"1.5"``, ``"2500m"``), else the
  CPUs this process may run on: its affinity mask, lowered by a cgroup CPU quota (a
  container's ``--cpus``).
  Every runner under the same ``DROVER_HOME`` should see the same value; a scheduling pass
  uses the capacity of the runner that makes it.
* **Scheduling.** Pending pods are bound in queue order while they fit, a pod that does not fit
  is passed over (as the scheduler does, without preemption): higher pod priority first (always
  0 here: ``priorityClassName`` names a PriorityClass, a cluster object the local store does not
  hold), then the workflow's ``spec.priority`` (higher first), then the older workflow, then the
  order the pods were queued in. Argo orders its own queues (workflow throttling, semaphores)
  the same way: ``workflow/sync/multi_throttler.go``, ``priorityQueue.Less``. A pod that
  requests more than the whole capacity never fits and stays Pending, as on Kubernetes.
* **Sharing.** The queue and the bound pods are one JSON document,
  ``$DROVER_HOME/local/node/pods.json``, read and rewritten (atomically) under an ``fcntl.flock``
  on ``local/node/lock``. Any runner's pass binds pods of every runner; a runner learns its
  bindings on its own next pass, which a detached runner makes at once: the pass that bound
  its pod sends it SIGUSR1 (its wake-up signal). An entry names its runner's pid and that
  process's start time;
  entries of dead runners (or of a reused pid) are dropped by the next pass, so a runner killed
  with SIGKILL gives its cores back.

The scheduler's message for a pod that does not fit is :data:`UNSCHEDULABLE_MESSAGE`; Argo
copies it, after the condition's reason, into the node's ``message`` while the pod is Pending.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from engine.errors import SpecError
from engine.process_cpus import process_cpus

__all__ = [
    "CPUS_ENV",
    "QUANTITY_FORMAT_MESSAGE",
    "UNSCHEDULABLE_MESSAGE",
    "UNSCHEDULABLE_REASON",
    "MachineNode",
    "PodRequest",
    "QuantityError",
    "machine_cpus",
    "parse_cpu",
    "parse_quantity_milli",
    "pod_cpu_request",
]

CPUS_ENV: Final = "DROVER_LOCAL_CPUS"
#: The PodScheduled condition's reason and message of a pod the only node has no room for
#: (kube-scheduler's NodeResourcesFit filter, one node in the cluster).
UNSCHEDULABLE_REASON: Final = "Unschedulable"
UNSCHEDULABLE_MESSAGE: Final = "0/1 nodes are available: 1 Insufficient cpu."
#: apimachinery's ``resource.ErrFormatWrong``: what the API server says of a bad quantity.
QUANTITY_FORMAT_MESSAGE: Final = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)

_QUANTITY: Final = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_DECIMAL_SUFFIXES: Final = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_BINARY_SUFFIXES: Final = {
    s: Decimal(1024**i) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)
}


class QuantityError(ValueError):
    """A quantity Kubernetes would refuse."""


def parse_cpu(quantity: object) -> int:
    """Millicores of a Kubernetes quantity (``"250m"`` → 250, ``1.5`` → 1500), rounded up as
    ``Quantity.MilliValue`` rounds."""
    return parse_quantity_milli(quantity)


def parse_quantity_milli(quantity: object) -> int:
    """A Kubernetes quantity in thousandths (``Quantity.MilliValue``): millicores of a CPU
    quantity, a thousand per byte of a storage one (``"2Gi"`` → 2 * 1024**3 * 1000)."""
    text = str(quantity).strip()
    match = _QUANTITY.match(text)
    if match is None or isinstance(quantity, bool):
        raise QuantityError(QUANTITY_FORMAT_MESSAGE)
    try:
        number = Decimal(match["number"])
    except InvalidOperation:  # pragma: no cover - the pattern admits decimals only
        raise QuantityError(QUANTITY_FORMAT_MESSAGE) from None
    suffix = match["suffix"] or ""
    if suffix in _BINARY_SUFFIXES:  # before the exponents: "Ei" is exbibytes, not e + "i"
        factor = _BINARY_SUFFIXES[suffix]
    elif suffix[:1] in ("e", "E") and suffix not in _DECIMAL_SUFFIXES:
        factor = Decimal(10) ** int(suffix[1:])
    else:
        factor = _DECIMAL_SUFFIXES[suffix]
    milli = number * factor * 1000
    if milli < 0:
        raise QuantityError(f"must be greater than or equal to 0 (got {text!r})")
    return int(milli.to_integral_value(rounding="ROUND_CEILING"))


def _container_cpu(container: dict[str, Any]) -> int:
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):  # no request: Kubernetes defaults it from the limit
        value = (resources.get(kind) or {}).get("cpu")
        if value not in (None, ""):
            return parse_cpu(value)
    return 0


def pod_cpu_request(template: dict[str, Any]) -> int:
    """Millicores the pod of a container/script/containerSet template requests (Kubernetes'
    effective request: the containers and sidecars together, or the largest init container).

    Raises :class:`QuantityError` for a quantity Kubernetes would refuse.
    """
    if "containerSet" in template:
        main = list((template["containerSet"] or {}).get("containers") or [])
    else:
        main = [template.get("container") or template.get("script") or {}]
    running = sum(_container_cpu(c) for c in [*main, *(template.get("sidecars") or [])])
    init = max((_container_cpu(c) for c in template.get("initContainers") or []), default=0)
    return max(running, init)


def machine_cpus() -> int:
    """The node's capacity in millicores: ``DROVER_LOCAL_CPUS``, else this process's CPUs."""
    configured = os.environ.get(CPUS_ENV, "").strip()
    if configured:
        try:
            milli = parse_cpu(configured)
        except QuantityError:
            milli = 0
        if milli <= 0:
            raise SpecError(
                CPUS_ENV,
                f"{configured!r} is not a CPU count",
                "a positive Kubernetes quantity such as 4, 1.5 or 2500m",
            )
        return milli
    return max(1, int(process_cpus() * 1000))


@dataclass(frozen=True, slots=True)
class PodRequest:
    """A pod asking the node for room."""

    workflow: str
    node_id: str
    cpu: int
    """Millicores (> 0: a pod that requests nothing does not ask)."""
    workflow_priority: int = 0
    workflow_created: str = ""
    """``metadata.creationTimestamp`` (RFC 3339 in UTC, so it sorts as text)."""
    priority: int = 0
    """The pod's own priority (Kubernetes' ``spec.priority``)."""


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True  # no /proc: the signal test is all there is
    if fields[0] == "Z":
        return False
    return start is None or fields[19] == start


def _queue_key(entry: dict[str, Any]) -> tuple[int, int, str, int]:
    return (
        -int(entry.get("priority", 0)),
        -int(entry.get("workflowPriority", 0)),
        str(entry.get("workflowCreated", "")),
        int(entry.get("queued", 0)),
    )


class MachineNode:
    """The shared node of every runner under one ``$DROVER_HOME/local`` (see the module)."""

    def __init__(
        self,
        root: Path,
        capacity: int | None = None,
        pid: int | None = None,
        *,
        wakeable: bool = False,
    ) -> None:
        self.directory = Path(root) / "node"
        self.state_path = self.directory / "pods.json"
        self.lock_path = self.directory / "lock"
        self.capacity = machine_cpus() if capacity is None else capacity
        self.pid = os.getpid() if pid is None else pid
        self.pid_start = _process_start(self.pid)
        self.wakeable = wakeable
        """This runner handles SIGUSR1 as "look again": a pass that binds its pods sends it."""

    @staticmethod
    def key(workflow: str, node_id: str) -> str:
        return f"{workflow}/{node_id}"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The state document, exclusively; written back (atomically) if it changed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                try:
                    state: dict[str, Any] = json.loads(self.state_path.read_text())
                except (FileNotFoundError, json.JSONDecodeError):
                    state = {}
                state.setdefault("pods", {})
                state.setdefault("queued", 0)
                before = json.dumps(state, sort_keys=True)
                yield state
                text = json.dumps(state, sort_keys=True)
                if text != before:
                    tmp = self.state_path.with_name(f".pods.{os.getpid()}.tmp")
                    tmp.write_text(text)
                    os.replace(tmp, self.state_path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def sync(
        self,
        workflow: str,
        *,
        request: Iterable[PodRequest] = (),
        release: Iterable[str] = (),
    ) -> set[str]:
        """Queue ``request``, give back ``release`` (node ids of ``workflow``, bound or still
        queued), run a scheduling pass; returns the node ids of ``workflow`` bound to this
        runner (those it holds, and those the pass bound)."""
        with self._locked() as state:
            pods: dict[str, dict[str, Any]] = state["pods"]
            for node_id in release:
                entry = pods.get(self.key(workflow, node_id))
                if entry is not None and entry.get("pid") == self.pid:
                    del pods[self.key(workflow, node_id)]
            for pod in request:
                state["queued"] += 1
                pods[self.key(pod.workflow, pod.node_id)] = {
                    "workflow": pod.workflow,
                    "node": pod.node_id,
                    "cpu": pod.cpu,
                    "pid": self.pid,
                    "pidStart": self.pid_start,
                    "priority": pod.priority,
                    "workflowPriority": pod.workflow_priority,
                    "workflowCreated": pod.workflow_created,
                    "queued": state["queued"],
                    "bound": False,
                    "wake": self.wakeable,
                }
            self._schedule(pods)
            return {
                entry["node"]
                for entry in pods.values()
                if entry["bound"] and entry["workflow"] == workflow and entry["pid"] == self.pid
            }

    def release_all(self, workflow: str) -> None:
        """Give back everything this runner holds or waits for on behalf of ``workflow``."""
        with self._locked() as state:
            pods: dict[str, dict[str, Any]] = state["pods"]
            for key in [
                k for k, e in pods.items() if e["workflow"] == workflow and e.get("pid") == self.pid
            ]:
                del pods[key]
            self._schedule(pods)

    def _schedule(self, pods: dict[str, dict[str, Any]]) -> None:
        """Drop entries of dead runners, then bind queued pods in order while they fit; wake
        the other runners whose pods were bound."""
        alive: dict[tuple[int, str | None], bool] = {}
        for key in list(pods):
            entry = pods[key]
            owner = (int(entry.get("pid", 0)), entry.get("pidStart"))
            if owner not in alive:
                alive[owner] = owner[0] == self.pid or _alive(*owner)
            if not alive[owner]:
                del pods[key]
        used = sum(int(e["cpu"]) for e in pods.values() if e["bound"])
        wake: set[int] = set()
        for entry in sorted((e for e in pods.values() if not e["bound"]), key=_queue_key):
            if used + int(entry["cpu"]) <= self.capacity:
                entry["bound"] = True
                used += int(entry["cpu"])
                if entry.get("wake") and entry["pid"] != self.pid:
                    wake.add(int(entry["pid"]))
        for pid in wake:  # alive a moment ago, with the recorded start time
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGUSR1)

    def pods(self) -> list[dict[str, Any]]:
        """The entries as stored (queued and bound), for inspection and tests."""
        with self._locked() as state:
            return [dict(e) for e in state["pods"].values()]
