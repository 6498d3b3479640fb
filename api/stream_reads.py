"""What event streams show, read once for every stream of a resource, off the requests' pool.

Five hundred browsers following one run must cost neither five hundred reads per change nor
connections and threads the other routes need. So a stream asks :class:`StreamReads` for its
resource's state: a read younger than ``max_age`` that the caller does not know to be stale (the
change watcher saw a newer stamp) is reused; otherwise one read runs, and the streams that ask
meanwhile wait for that same read.

Reads run in a small thread pool of their own, on an engine of their own: at most ``threads``
connections, in autocommit (a stream never leaves a transaction open, between events or
during one), named ``drover-events`` in ``pg_stat_activity``. Under Postgres' default READ
COMMITTED each statement sees its own snapshot anyway, so autocommit reads are as consistent as
reads in a transaction. Streams and requests never wait for each other's connections or threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final, TypeVar, cast

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["APPLICATION_NAME", "StreamReads"]

APPLICATION_NAME: Final = "drover-events"
"""``application_name`` of the streams' connections (and the change watcher's)."""

T = TypeVar("T")

_KEEP: Final = 10.0
"""Seconds a read is kept at most: longer than any stream's ``max_age``."""


def _never_stale(_: Any) -> bool:
    return False


class StreamReads:
    """``await reads.read(key, fetch, stale=...)``: ``fetch(session)``'s value for ``key``,
    shared by every caller while it is fresh."""

    def __init__(
        self, engine: Engine, *, threads: int = 4, max_age: float = 1.0, size: int = 256
    ) -> None:
        self.engine = create_engine(
            engine.url,
            pool_size=threads,
            max_overflow=0,
            pool_pre_ping=True,
            pool_recycle=600,
            isolation_level="AUTOCOMMIT",
            connect_args={"application_name": APPLICATION_NAME},
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.max_age = max_age
        self._size = size
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="drover-stream-read")
        self._lock = threading.Lock()
        self._reads: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._flights: dict[str, Future[Any]] = {}

    async def read(
        self,
        key: str,
        fetch: Callable[[Session], T],
        *,
        stale: Callable[[T], bool] = _never_stale,
        max_age: float | None = None,
    ) -> T:
        """The last read of ``key`` if it is younger than ``max_age`` (default: the object's)
        and not ``stale``; else the read in flight, or a new one. A caller woken by a change
        may join a read that began just before it: it then sees a stamp older than the
        watcher's and asks again at once."""
        oldest = time.monotonic() - (self.max_age if max_age is None else max_age)
        with self._lock:
            last = self._reads.get(key)
            if last is not None and last[0] >= oldest and not stale(last[1]):
                return cast(T, last[1])
            flight = self._flights.get(key)
            if flight is None:
                flight = self._pool.submit(self._fetch, key, fetch)
                self._flights[key] = flight
        # Shielded: a stream that goes away must not cancel a read others wait for.
        return cast(T, await asyncio.shield(asyncio.wrap_future(flight)))

    def _fetch(self, key: str, fetch: Callable[[Session], Any]) -> Any:
        began = time.monotonic()
        try:
            with self.sessions() as session:
                value = fetch(session)
        except BaseException:
            with self._lock:
                self._flights.pop(key, None)
            raise
        with self._lock:  # stored and landed at once: no caller finds neither
            self._flights.pop(key, None)
            self._reads[key] = (began, value)
            self._reads.move_to_end(key)
            # Oldest first: drop what no stream will take any more (a run's detail can be large).
            while self._reads and (
                len(self._reads) > self._size or next(iter(self._reads.values()))[0] < began - _KEEP
            ):
                self._reads.popitem(last=False)
        return value

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()
