"""Server-sent events that carry what changed, with ids a browser's ``EventSource`` resumes by.

A stream's state is a set of entities (the run, each group, worker or job) keyed by name. The
first event is a ``snapshot`` (the whole state); later ones are ``delta`` events holding only
the entities that changed, and of those only the changed fields. Every event has an id; an
``EventSource`` that reconnects sends the last one in ``Last-Event-ID``. If this process still
holds the state it sent under that id (a bounded cache), the stream resumes with a delta from
it; otherwise (another process, too long ago) it starts again with a snapshot, which a client
applies by replacing what it holds. Either way the client ends up with the current state.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import anyio

from engine.backends.base import Backend
from engine.errors import DroverError

__all__ = [
    "EventLog",
    "StreamState",
    "changes",
    "delta_stream",
    "event_log",
    "format_event",
    "log_events",
]

Entities = dict[str, dict[str, Any]]

_MAX_SNAPSHOTS: Final = 512


def format_event(event: str, data: Any, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def changes(old: Entities | None, new: Entities) -> Entities:
    """Per entity of ``new``: the fields that differ from ``old`` (all of a new entity's);
    an entity that is gone maps to ``{"removed": True}``."""
    old = old or {}
    out: Entities = {}
    for key, fields in new.items():
        before = old.get(key)
        if before is None:
            out[key] = fields
            continue
        diff = {name: value for name, value in fields.items() if before.get(name) != value}
        diff |= {name: None for name in before.keys() - fields.keys()}
        if diff:
            out[key] = diff
    for key in old.keys() - new.keys():
        out[key] = {"removed": True}
    return out


class EventLog:
    """The states recently sent, by event id, so a reconnecting stream resumes from its own."""

    def __init__(self, size: int = _MAX_SNAPSHOTS) -> None:
        self._size = size
        self._prefix = secrets.token_hex(3)
        """Ids of another process (or an earlier one) never match this one's."""
        self._counter = itertools.count(1)
        self._states: OrderedDict[str, tuple[str, Entities]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, stream: str, state: Entities) -> str:
        """Remember ``state`` as sent on ``stream`` (``run:<id>``); its new event id."""
        with self._lock:
            event_id = f"{self._prefix}-{next(self._counter)}"
            self._states[event_id] = (stream, state)
            while len(self._states) > self._size:
                self._states.popitem(last=False)
        return event_id

    def state(self, stream: str, event_id: str | None) -> Entities | None:
        """The state sent under ``event_id`` on ``stream``, if this process still holds it."""
        if not event_id:
            return None
        with self._lock:
            found = self._states.get(event_id.strip())
        if found is None or found[0] != stream:
            return None
        return found[1]


event_log = EventLog()
"""The process's log: every stream records into it."""


@dataclass(frozen=True)
class StreamState:
    """One read of what a stream shows."""

    entities: Entities
    snapshot: Any
    """The whole state as the first event sends it (the resource's own JSON)."""
    final: bool
    """Nothing will change any more: the stream ends after this state."""
    end: dict[str, Any]
    """The ``end`` event's data."""
    stamp: Any = None
    """What the stream's ``wait`` compares to notice the next change (e.g. an updated_at)."""


async def delta_stream(
    stream: str,
    read: Callable[[], Awaitable[StreamState | None]],
    *,
    last_event_id: str | None = None,
    wait: Callable[[StreamState], Awaitable[Any]] | None = None,
    keep_alive: int = 30,
) -> AsyncIterator[str]:
    """``snapshot`` (or, resuming, a ``delta`` from the state sent under ``last_event_id``),
    then a ``delta`` per change, then ``end``. ``read`` gives the current state (see
    :mod:`api.stream_reads`: shared between streams, no connection held between reads);
    ``wait`` waits for the next change after the state it is given (default: half a second).
    A comment line every ``keep_alive`` quiet rounds keeps proxies open."""
    sent = event_log.state(stream, last_event_id)
    resumed = sent is not None
    quiet = 0
    while True:
        state = await read()
        if state is None:
            yield format_event("end", {"detail": "gone"})
            return
        if sent is None and not resumed:
            yield format_event("snapshot", state.snapshot, event_log.record(stream, state.entities))
            sent, resumed = state.entities, True
        else:
            diff = changes(sent, state.entities)
            if diff:
                yield format_event("delta", diff, event_log.record(stream, state.entities))
                sent, quiet = state.entities, 0
        if state.final:
            yield format_event("end", state.end)
            return
        await (wait(state) if wait is not None else anyio.sleep(0.5))
        quiet += 1
        if quiet >= keep_alive:
            yield ": keep-alive\n\n"
            quiet = 0


def log_events(
    backend: Backend,
    workflow: str,
    nodes: Sequence[str | None] = (None,),
    *,
    follow: bool = False,
    saved: Sequence[tuple[str, str]] = (),
) -> Iterator[str]:
    """A log stream (runs' and pipeline runs'): one ``log`` event per line (``<pod>: <line>``)
    of each node in turn (None: every pod of the workflow), an ``error`` event if the backend
    fails midway (the headers are sent by then), then ``end``.

    ``saved`` holds (label, node id) of workers whose pods may be gone (Argo's podGC): when the
    backend had no line at all, their saved ``log`` artifacts stand in."""
    seen = 0
    try:
        for node in nodes:
            for line in backend.logs(workflow, node=node, follow=follow):
                seen += 1
                yield format_event("log", {"line": f"{line.label}: {line.content}"})
    except DroverError as exc:
        yield format_event("error", {"detail": str(exc)})
    if not seen:
        for label, node_id in saved:
            try:
                blob = backend.read_artifact(workflow, node_id, "log")
            except DroverError as exc:
                yield format_event("error", {"detail": f"{label}: saved log unreadable: {exc}"})
                continue
            for text in (blob or b"").decode(errors="replace").splitlines():
                yield format_event("log", {"line": f"{label}: {text}"})
    yield format_event("end", {})
