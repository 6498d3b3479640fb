"""Run details and results pages as last served, reused while the run has not changed
(``updated_at``, phase).

The mirror and the ingest move a run's ``updated_at`` with every change of the run, its groups,
workers and counters; a detail asked for again with the same stamp is served from here after
one small query. Entries live at most ``max_age`` seconds, so durations of a running run (and a
queue-mode run's leases, which do not move the stamp) are never older than that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Final

from sqlalchemy import Connection

__all__ = ["DetailCache", "details", "plans", "result_pages", "run_stamp"]

_STAMP: Final = "SELECT updated_at, phase FROM drover_runs WHERE id = %(run_id)s"


def run_stamp(connection: Connection, run_id: str) -> tuple[Any, str] | None:
    """The run's ``(updated_at, phase)``, None when there is no such run. Plain SQL: this is
    all a request served from the cache reads, and an ORM select cost twice the round trip
    itself."""
    row = connection.exec_driver_sql(_STAMP, {"run_id": run_id}).first()
    return None if row is None else (row[0], row[1])


class DetailCache:
    def __init__(self, size: int = 256, max_age: float = 1.0) -> None:
        self._size = size
        self._max_age = max_age
        self._entries: OrderedDict[str, tuple[Any, float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, key: str) -> bool:
        """Whether ``key`` was served lately (whatever its stamp): worth checking the stamp."""
        with self._lock:
            return key in self._entries

    def get(self, key: str, stamp: Any) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] != stamp or time.monotonic() - entry[1] > self._max_age:
            return None
        return entry[2]

    def put(self, key: str, stamp: Any, body: bytes) -> None:
        with self._lock:
            self._entries[key] = (stamp, time.monotonic(), body)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


details = DetailCache()
"""The process's cache of run details (``GET /runs/{id}``)."""

result_pages = DetailCache(size=1024)
"""The process's cache of results pages (``GET /runs/{id}/results``), by run and query: the
first page a live dashboard polls is read once per change of the run."""

plans = DetailCache(size=64, max_age=600.0)
"""Runs' plans (``GET /runs/{id}/plan``): a run's planned spec never changes, and planning
10,000 scenarios again costs a tenth of a second."""
