"""A worker's steal board: how far it has come through its shard, and where its shard now ends.

Standard library only: the agent and its pytest plugin (inside the project's pytest) share it.

One small JSON file per worker of a group, in the group's shared workspace, read and written
only under an exclusive ``flock`` of the file itself::

    {"total": 120, "pos": 37, "end": 80, "started": true, "closed": false, "elapsed": 41.5,
     "at": 1796400000.5, "first": 1.2}

Positions index the worker's shard (its plan's scenario ids, duplicates dropped). The owner
*claims* positions from the front before it runs them (``pos``, with the seconds its session
had run by then, ``elapsed``, and the wall-clock time of the claim, ``at``; ``first``: what
``elapsed`` was at its first claim, the session's start-up and collection); a peer that ran out
of work *steals* from the back by lowering ``end``, never below ``pos``. So every position is
run by exactly one worker: the owner runs ``[0, end)``, the thieves what they took.
``closed``: the owner's session is over, nothing more can be taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from drover_agent.real_clock import RealClock

__all__ = ["BoardState", "claim", "locked_board", "parse_board"]


@dataclass
class BoardState:
    total: int
    pos: int = 0
    end: int = -1
    started: bool = False
    closed: bool = False
    elapsed: float = 0.0
    at: float = 0.0
    first: float | None = None

    def __post_init__(self) -> None:
        if self.end < 0:
            self.end = self.total

    @property
    def remaining(self) -> int:
        return 0 if self.closed else max(self.end - self.pos, 0)


@contextlib.contextmanager
def locked_board(path: Path, total: int, descriptor: int | None = None) -> Iterator[BoardState]:
    """The board at ``path`` (a fresh one of ``total`` positions if there is none yet), held
    under an exclusive lock; what the block changes is written back before the lock is let go.
    ``descriptor``: an open descriptor of ``path`` to reuse (the owner keeps one open)."""
    own = descriptor is None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if descriptor is None else descriptor
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(fd, 4096, 0)
            state = parse_board(raw, total)
            before = asdict(state)
            yield state
            if asdict(state) != before or not raw:
                data = json.dumps(asdict(state)).encode()
                os.pwrite(fd, data, 0)
                os.ftruncate(fd, len(data))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        if own:
            os.close(fd)


def parse_board(raw: bytes, total: int) -> BoardState:
    if not raw:
        return BoardState(total=total)
    document = json.loads(raw)
    return BoardState(
        total=int(document["total"]),
        pos=int(document["pos"]),
        end=int(document["end"]),
        started=bool(document["started"]),
        closed=bool(document["closed"]),
        elapsed=float(document["elapsed"]),
        at=float(document.get("at", 0.0)),
        first=None if document.get("first") is None else float(document["first"]),
    )


def claim(
    path: Path, descriptor: int, total: int, position: int, window: int, elapsed: float
) -> int:
    """The owner is about to run ``position``: claim it and up to ``window`` - 1 after it.

    Returns the end (exclusive) of what the owner may now run; at or below ``position`` when a
    thief took ``position`` already."""
    with locked_board(path, total, descriptor) as state:
        if position >= state.end:
            return state.end
        state.pos = max(state.pos, min(position + max(window, 1), state.end))
        state.elapsed = elapsed
        if state.first is None:
            state.first = elapsed
        state.at = RealClock.wall()
        return state.pos
