"""The mutexes and semaphores of ``synchronization``, shared by every workflow on the machine.

Argo's controller keeps one lock table for all the workflows it runs (workflow/sync/
sync_manager.go): a workflow-level lock is held by ``<namespace>/<workflow>``, a template's by
``<namespace>/<workflow>/<node id>`` (``getHolderKey``), a mutex by one holder, a semaphore by
as many as its limit. Here each workflow has a runner process of its own, so the table is a
file of the local store, read and written under an exclusive ``flock``; a holder whose workflow
has ended, or whose runner died, holds nothing (the controller releases those too).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

__all__ = ["FileLocks", "LockTable", "MemoryLocks"]

#: lock name → its holders.
Table = dict[str, list[str]]


class LockTable(Protocol):
    def try_acquire(self, holder: str, locks: list[tuple[str, int]]) -> tuple[str | None, Table]:
        """Take every one of ``locks`` (name, limit) for ``holder``, or none of them: the first
        lock that is full (None when all were taken) and the holders of each."""
        ...

    def release(self, holder: str, lock: str) -> None: ...


def _acquire(table: Table, holder: str, locks: list[tuple[str, int]]) -> str | None:
    for lock, limit in locks:
        holders = table.setdefault(lock, [])
        if holder not in holders and len(holders) >= limit:
            return lock
    for lock, _ in locks:
        if holder not in table[lock]:
            table[lock].append(holder)
    return None


class MemoryLocks:
    """A table of one process's own (a workflow run in-process, alone)."""

    def __init__(self) -> None:
        self.table: Table = {}

    def try_acquire(self, holder: str, locks: list[tuple[str, int]]) -> tuple[str | None, Table]:
        blocked = _acquire(self.table, holder, locks)
        return blocked, {lock: list(self.table[lock]) for lock, _ in locks}

    def release(self, holder: str, lock: str) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.table[lock].remove(holder)


class FileLocks:
    """The machine's table, in ``path``; ``alive(holder)`` says whether a holder still holds."""

    def __init__(self, path: Path, alive: Callable[[str], bool]) -> None:
        self.path = path
        self.alive = alive

    @contextlib.contextmanager
    def _table(self) -> Iterator[Table]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            try:
                table: Table = json.loads(handle.read() or "{}")
            except json.JSONDecodeError:
                table = {}
            yield table
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({k: v for k, v in table.items() if v}))

    def try_acquire(self, holder: str, locks: list[tuple[str, int]]) -> tuple[str | None, Table]:
        with self._table() as table:
            for lock, _ in locks:
                table[lock] = [h for h in table.get(lock, []) if h == holder or self.alive(h)]
            blocked = _acquire(table, holder, locks)
            return blocked, {lock: list(table[lock]) for lock, _ in locks}

    def release(self, holder: str, lock: str) -> None:
        with self._table() as table, contextlib.suppress(KeyError, ValueError):
            table[lock].remove(holder)
