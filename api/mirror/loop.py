"""The one loop that follows runs, for both kinds (executions' and pipelines' runs).

Each pass asks which runs to follow (with how often each is to be read), syncs every one that is
due, and waits until the next is due or a ``wake`` (a run started or was controlled). A run whose
sync fails is retried later and later, up to ``MAX_BACKOFF``, alone: it neither stops nor slows
the others, and its error is logged by its first line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

__all__ = ["MAX_BACKOFF", "FollowLoop", "backoff"]

log = logging.getLogger("drover.mirror")

MAX_BACKOFF = 30.0
"""Longest wait, in seconds, before a run whose sync keeps failing is tried again."""


def backoff(interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` failed syncs in a row (0: the usual ``interval``)."""
    return interval if failures == 0 else min(interval * 2**failures, MAX_BACKOFF)


class FollowLoop:
    """A thread syncing runs: ``runs()`` maps each run to follow to its read interval;
    ``sync(run)`` is True once the run is final (then ``on_final(run)`` is called)."""

    def __init__(
        self,
        name: str,
        *,
        runs: Callable[[], Mapping[str, float]],
        sync: Callable[[str], bool],
        describe: Callable[[BaseException], str],
        on_final: Callable[[str], None] | None = None,
        on_error: Callable[[], None] | None = None,
        idle_interval: float = 2.0,
        what: str = "run",
    ) -> None:
        self.name = name
        self.runs = runs
        self.sync = sync
        self.describe = describe
        self.on_final = on_final
        self.on_error = on_error
        """Called on every failure (the owner counts them)."""
        self.idle_interval = idle_interval
        """How long to wait while no run is followed (``wake`` cuts it short)."""
        self.what = what
        self._due: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def wake(self) -> None:
        """Look now (a run was started or controlled) rather than at the next due time."""
        self._wake.set()

    def _failed(self) -> None:
        if self.on_error is not None:
            self.on_error()

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.step()
            self._wake.wait(wait)
            self._wake.clear()

    def step(self) -> float:
        """One pass over the runs; returns how long to wait before the next."""
        try:
            runs = dict(self.runs())
        except Exception as exc:
            self._failed()
            log.warning("%s: cannot list the runs to follow, will retry: %s", self.name, exc)
            return self.idle_interval
        for gone in self._due.keys() - runs.keys():
            self._due.pop(gone, None)
            self._failures.pop(gone, None)
        for run_id, interval in sorted(runs.items()):
            if time.monotonic() < self._due.get(run_id, 0.0):
                continue
            try:
                final = self.sync(run_id)
            except Exception as exc:  # a bug in one run's sync must not stop the others
                self._failed()
                failed = self._failures[run_id] = self._failures.get(run_id, 0) + 1
                delay = backoff(interval, failed)
                self._due[run_id] = time.monotonic() + delay
                log.warning(
                    "mirror of %s %s failed (%d in a row), retrying in %.1f s: %s",
                    self.what,
                    run_id,
                    failed,
                    delay,
                    self.describe(exc),
                )
                continue
            self._failures.pop(run_id, None)
            self._due[run_id] = time.monotonic() + interval
            if final and self.on_final is not None:
                self.on_final(run_id)
        if not runs:
            return self.idle_interval
        next_due = min(self._due.get(r, 0.0) for r in runs) - time.monotonic()
        return max(min(next_due, min(runs.values())), 0.01)
