"""Which followed runs changed: one thread watches them for every open event stream.

An SSE stream holds no database connection while it waits: it sleeps on an ``asyncio.Event``
that this watcher sets when the run's ``updated_at`` (or phase) moves, then borrows a connection
just long enough to read the run again. However many streams are open, the watcher runs one
small query per interval, so open streams cost neither connections nor worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.models import Run

__all__ = ["RunChanges", "Stamp"]

log = logging.getLogger("drover.api")

_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]
Stamp = tuple[datetime | None, str]
"""A run's ``updated_at`` and phase: when either moves, the run changed."""


class RunChanges:
    """``await wait(run_id, seen, timeout)``: True once the run changed, False on timeout."""

    def __init__(self, sessions: sessionmaker[Session], *, interval: float = 0.25) -> None:
        self.sessions = sessions
        self.interval = interval
        self._waiters: dict[str, set[_Waiter]] = {}
        self._stamps: dict[str, Stamp] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="drover-run-changes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def wait(self, run_id: str, seen: Stamp, timeout: float) -> bool:
        """Wait until the run's stamp differs from ``seen`` (the stamp the caller last read)."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(run_id, set()).add(waiter)
            known = self._stamps.get(run_id)
        if known is not None and _newer(known, seen):  # it changed while the caller was reading
            waiter[1].set()
        try:
            await asyncio.wait_for(waiter[1].wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                waiting = self._waiters.get(run_id)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._waiters[run_id]

    def changed_since(self, run_id: str, seen: Stamp) -> bool:
        """Whether the watcher's last look found the run newer than ``seen`` (False when it
        has not looked at the run yet)."""
        with self._lock:
            known = self._stamps.get(run_id)
        return known is not None and _newer(known, seen)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except SQLAlchemyError as exc:  # the database is away: streams wait on
                log.warning("watching runs for event streams failed: %s", exc)

    def poll(self) -> None:
        """One look at every run someone waits for; wakes the waiters of those that changed."""
        with self._lock:
            ids = list(self._waiters)
            for gone in self._stamps.keys() - set(ids):
                del self._stamps[gone]
        if not ids:
            return
        with self.sessions() as session:
            rows = session.execute(
                select(Run.id, Run.updated_at, Run.phase).where(Run.id.in_(ids))
            ).all()
        for run_id, updated_at, phase in rows:
            stamp = (updated_at, phase)
            if self._stamps.get(run_id) == stamp:
                continue
            self._stamps[run_id] = stamp
            with self._lock:
                waiting = list(self._waiters.get(run_id, ()))
            for loop, event in waiting:
                with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                    loop.call_soon_threadsafe(event.set)


def _newer(known: Stamp, seen: Stamp) -> bool:
    """Whether the watcher's stamp is later than the one the caller read. A caller that read
    the run after the watcher's last look holds the newer stamp: waking it at once would have
    it read the same state again and again until the watcher looks next."""
    if known == seen:
        return False
    if known[0] is None or seen[0] is None:
        return True
    return known[0] > seen[0] or (known[0] == seen[0] and known[1] != seen[1])
