"""Following Argo's workflows: the watch stream with resume, dedup and periodic full resync.

The Argo Server's ``GET /api/v1/workflow-events/{ns}`` ends whenever it likes (timeouts,
restarts, proxies), may repeat events after a reconnect, and answers a resume from a compacted
resourceVersion with an error frame. So the watcher:

- lists first (paged), emitting every workflow, and remembers the list's resourceVersion;
- streams from the last resourceVersion seen, asking the server to end the stream after one
  resync interval (``listOptions.timeoutSeconds``), and reconnects when it ends;
- drops repeated and out-of-date events (per-workflow resourceVersion, see :class:`WatchState`);
- relists after an "expired"/410 error frame and every ``resync_interval`` seconds, emitting only
  what changed since (including DELETED for workflows that vanished in between);
- decodes ``status.compressedNodes`` and fetches offloaded statuses hydrated (``hydrate``);
- ends at once when another thread calls :meth:`WorkflowWatcher.stop` (the facade shutting
  down): its pauses wait on that stop, and the open stream's socket is shut down, so a read
  waiting for the next event returns.

``fields=`` keeps events small: metadata and the status parts the mirror reads, no spec.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.backends.argo.server import ArgoServer, LineStream
from engine.backends.argo.status_codec import inflate_status, needs_hydration
from engine.backends.argo.stream_frames import StreamError, parse_frame
from engine.backends.base import WorkflowEvent, is_newer
from engine.errors import BackendError, NotFound
from engine.status import is_archive_record

__all__ = [
    "COUNTED_PAGES",
    "LIST_FIELDS",
    "PAGE_SIZE",
    "WATCH_FIELDS",
    "WatchState",
    "WorkflowWatcher",
    "label_selector",
]

log = logging.getLogger(__name__)

_METADATA_FIELDS = (
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "labels", "annotations", "ownerReferences",
)  # fmt: skip
_STATUS_FIELDS = (
    "phase", "startedAt", "finishedAt", "estimatedDuration", "progress", "message", "nodes",
    "compressedNodes", "offloadNodeStatusVersion", "conditions", "resourcesDuration",
)  # fmt: skip


_SPEC_FIELDS = ("suspend",)
"""The one field of the spec a run's state reads (``engine.status``: suspended). The server
keeps only the fields named (util/fields/fields.go ``Cleaner``), so an unnamed ``spec`` is
gone from every event."""


def _fields(prefix: str) -> list[str]:
    return [
        *(f"{prefix}.metadata.{f}" for f in _METADATA_FIELDS),
        *(f"{prefix}.spec.{f}" for f in _SPEC_FIELDS),
        *(f"{prefix}.status.{f}" for f in _STATUS_FIELDS),
    ]


WATCH_FIELDS = ",".join(["result.type", *_fields("result.object")])
LIST_FIELDS = ",".join(["metadata.resourceVersion", "metadata.continue", *_fields("items")])
PAGE_SIZE = 500
COUNTED_PAGES = {"listOptions.fieldSelector": "ext.showRemainingItemCount=true"}
"""Query parameters of a paged workflow list whose ``continue`` token is right on every Argo.
v4's ``ListWorkflows`` (server/workflow/workflow_server.go) sets ``continue`` only when the
archive has more rows past the page (``HasMoreWorkflows``, always false without an archive) —
never for live workflows beyond the first page — unless ``ext.showRemainingItemCount`` asks for
the counts (server/utils/list_options.go ``BuildListOptions``; v3.6 and v3.7 read it too)."""
ARCHIVED = "archived"
"""The version :class:`WatchState` keeps for a workflow seen only as an archive record."""
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


def label_selector(labels: dict[str, str]) -> str | None:
    """Equality-based selector (``a=1,b=2``), None when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def _name_and_version(workflow: dict[str, Any]) -> tuple[str, str]:
    meta = workflow.get("metadata") or {}
    return str(meta.get("name") or ""), str(meta.get("resourceVersion") or "")


@dataclass
class WatchState:
    """Per-workflow resourceVersions already emitted; decides what is news. No I/O."""

    versions: dict[str, str] = field(default_factory=dict)

    def accept(self, kind: str, workflow: dict[str, Any]) -> WorkflowEvent | None:
        """A stream event → the event to emit, or None for repeats and stale copies."""
        name, version = _name_and_version(workflow)
        if not name:
            return None
        if kind == "DELETED":
            if self.versions.pop(name, None) is None:
                return None
            return WorkflowEvent("DELETED", workflow)
        if kind not in ("ADDED", "MODIFIED"):
            return None
        known = self.versions.get(name)
        if known is not None and not is_newer(version, known):
            return None
        self.versions[name] = version
        return WorkflowEvent("ADDED" if known is None else "MODIFIED", workflow)

    def resync(self, workflows: Iterable[dict[str, Any]], namespace: str) -> list[WorkflowEvent]:
        """A full list → events for what is new, changed or gone since the last emission.

        The list holds the archive's records too (no resourceVersion, no nodes): one is news
        only when the cluster no longer has that workflow and it was not reported archived
        already; the consumer reads the whole workflow by name (``is_archive_record``).
        """
        events: list[WorkflowEvent] = []
        seen: set[str] = set()
        workflows = list(workflows)
        live = {_name_and_version(w)[0] for w in workflows if not is_archive_record(w)}
        for workflow in workflows:
            name, _ = _name_and_version(workflow)
            seen.add(name)
            if is_archive_record(workflow):
                if name in live or self.versions.get(name) == ARCHIVED:
                    continue
                known = name in self.versions
                self.versions[name] = ARCHIVED
                events.append(WorkflowEvent("MODIFIED" if known else "ADDED", workflow))
                continue
            event = self.accept("MODIFIED", workflow)
            if event is not None:
                events.append(event)
        for name in sorted(set(self.versions) - seen):
            del self.versions[name]
            gone = {"metadata": {"name": name, "namespace": namespace}}
            events.append(WorkflowEvent("DELETED", gone))
        return events


class WorkflowWatcher(Iterator[WorkflowEvent]):
    """An iterator of :class:`WorkflowEvent` for one namespace and label selector, endless
    until :meth:`stop` (a :class:`~engine.backends.base.StoppableWatch`)."""

    def __init__(
        self,
        server: ArgoServer,
        namespace: str,
        *,
        labels: dict[str, str],
        hydrate: Callable[[str], dict[str, Any]],
        resync_interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        max_failures: int = 10,
    ) -> None:
        """``sleep``: how to pause between retries (default: wait on :meth:`stop`)."""
        self.server = server
        self.namespace = namespace
        self.selector = label_selector(labels)
        self.hydrate = hydrate
        self.resync_interval = resync_interval
        self.clock = clock
        self.max_failures = max_failures
        self.state = WatchState()
        self.resource_version: str | None = None
        self._last_resync: float | None = None
        self._failures = 0
        self._stopped = threading.Event()
        self.sleep: Callable[[float], object] = sleep or self._stopped.wait
        self._open: LineStream | None = None
        """The stream being read, which :meth:`stop` shuts."""
        self._events = self._run()

    # ------------------------------------------------------------------ loop

    def __iter__(self) -> WorkflowWatcher:
        return self

    def __next__(self) -> WorkflowEvent:
        return next(self._events)

    def stop(self) -> None:
        """End the watch from any thread: a pause returns, a read waiting on the stream returns
        (its socket shut down), and the iteration ends instead of reconnecting."""
        self._stopped.set()
        stream = self._open
        if stream is not None:
            stream.abort()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _pause(self, seconds: float) -> None:
        if not self._stopped.is_set():
            self.sleep(seconds)

    def _run(self) -> Iterator[WorkflowEvent]:
        relist = True
        while not self._stopped.is_set():
            try:
                if relist or self._resync_due():
                    yield from self._resync()
                relist = yield from self._stream()
                self._failures = 0
            except BackendError as error:
                if self._stopped.is_set():
                    return
                self._failures += 1
                if self._failures >= self.max_failures:
                    raise
                delay = min(2.0 ** (self._failures - 1), 30.0)
                log.warning(
                    "watch of %s failed (%s); retrying in %.0fs", self.namespace, error, delay
                )
                self._pause(delay)
                relist = True

    def _resync_due(self) -> bool:
        return self._last_resync is None or (
            self.clock() - self._last_resync >= self.resync_interval
        )

    def _resync(self) -> Iterator[WorkflowEvent]:
        workflows, version = self._list_all()
        self._last_resync = self.clock()
        self.resource_version = version or None
        for event in self.state.resync(workflows, self.namespace):
            yield self._complete(event)

    def _list_all(self) -> tuple[list[dict[str, Any]], str]:
        workflows: list[dict[str, Any]] = []
        version = ""
        for page in self.server.pages(
            f"api/v1/workflows/{self.namespace}",
            what=f"list workflows in {self.namespace}",
            params={
                "listOptions.labelSelector": self.selector,
                "listOptions.limit": PAGE_SIZE,
                **COUNTED_PAGES,
                "fields": LIST_FIELDS,
            },
            sleep=self._pause,
        ):
            # The first page's resourceVersion is the list's: the watch resumes from it.
            version = version or str((page.get("metadata") or {}).get("resourceVersion") or "")
            workflows.extend(page.get("items") or [])
        return workflows, version

    def _stream(self) -> Generator[WorkflowEvent, None, bool]:
        """Stream until the server ends it or a resync is due; returns whether to relist."""
        params = {
            "listOptions.labelSelector": self.selector,
            "listOptions.resourceVersion": self.resource_version,
            "listOptions.timeoutSeconds": max(1, int(self.resync_interval)),
            "fields": WATCH_FIELDS,
        }
        with self.server.stream_lines(
            f"api/v1/workflow-events/{self.namespace}",
            what=f"watch workflows in {self.namespace}",
            params=params,
            read_timeout=self.resync_interval + 30.0,
            sleep=self._pause,
        ) as lines:
            self._open = lines
            try:
                if self._stopped.is_set():  # stopped while connecting: stop() missed this one
                    return False
                frames = 0
                for line in lines:
                    if self._stopped.is_set():
                        return False
                    frame = parse_frame(line)
                    if frame is None:
                        continue
                    frames += 1
                    if isinstance(frame, StreamError):
                        log.info(
                            "watch of %s: server error frame: %s", self.namespace, frame.message
                        )
                        # Expired: only a list recovers. Anything else: resync to be safe.
                        return True
                    kind = str(frame.value.get("type") or "")
                    workflow = frame.value.get("object")
                    if not isinstance(workflow, dict):
                        continue
                    _, version = _name_and_version(workflow)
                    if version and is_newer(version, self.resource_version):
                        self.resource_version = version
                    event = self.state.accept(kind, workflow)
                    if event is not None:
                        yield self._complete(event)
                    if self._resync_due():
                        return True
            finally:
                self._open = None
        if frames == 0:
            self._pause(1.0)  # an empty stream: do not reconnect in a tight loop
        return False

    def _complete(self, event: WorkflowEvent) -> WorkflowEvent:
        """Nodes decoded, or fetched when offloaded; the event type stays."""
        if event.type == "DELETED":
            return event
        workflow = inflate_status(event.workflow)
        if needs_hydration(workflow):
            name, _ = _name_and_version(workflow)
            with contextlib.suppress(NotFound):  # deleted meanwhile: its DELETED event follows
                workflow = inflate_status(self.hydrate(name))
                # The fetched copy may be newer than the event: do not emit that version again.
                _, version = _name_and_version(workflow)
                if version and is_newer(version, self.state.versions.get(name)):
                    self.state.versions[name] = version
        return WorkflowEvent(event.type, workflow)
