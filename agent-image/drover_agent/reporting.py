"""Post scenario results to the facade as they arrive, in batches, from a background thread.

``report()`` never blocks the runner: it queues the result (once per scenario and attempt) and
the thread posts what is waiting every ``interval`` seconds or as soon as ``batch_size`` are:
all of it, up to :data:`MAX_BATCH`, so that while one post is on its way the next grows with
the pace of the tests (a thousand short tests a second would otherwise wait behind posts of 50).
A batch the service finds too large (413: long error texts) is posted again in halves, and
later posts stay within the size that went through.
A batch the facade cannot take stays queued and is tried again after a pause that grows while
the facade stays down; ``close()`` makes one last bounded attempt. The shard never fails
because of the facade: the results file, which the mirror also reads, remains complete.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from drover_agent.facade import FacadeClient, FacadeError, FacadeRejected
from drover_agent.results import ScenarioResult, utc_now

__all__ = ["ReportTarget", "ResultReporter", "result_payload"]

# The service's limits on one result (api/runs/results.py ResultIn); longer values would get the
# whole batch refused.
ID_LIMIT = 4000
ERROR_LIMIT = 100_000
ARTIFACT_LIMIT = 100
MAX_BATCH = 1000
TOO_LARGE = 413
POST_ATTEMPTS = 2
MAX_PAUSE = 10.0


@dataclass(frozen=True)
class ReportTarget:
    """Where results belong: their group, the worker's index in it, and the pod's name."""

    group: str
    shard: int
    worker: str | None


def result_payload(result: ScenarioResult, target: ReportTarget) -> dict[str, Any]:
    """One result as ``POST /runs/{id}/results`` takes it."""
    return {
        "id": result.id,
        "status": result.status,
        "attempt": result.attempt,
        "duration": max(0.0, result.duration),
        "error": result.error[:ERROR_LIMIT] if result.error else None,
        "artifacts": list(result.artifacts[:ARTIFACT_LIMIT]),
        "artifact_dir": result.artifact_dir,
        **({"properties": [list(p) for p in result.properties]} if result.properties else {}),
        "group": target.group,
        "shard": target.shard,
        "worker": target.worker,
        "reported_at": utc_now(),
    }


class ResultReporter:
    def __init__(
        self,
        client: FacadeClient,
        target: ReportTarget,
        *,
        interval: float = 0.5,
        batch_size: int = 50,
    ) -> None:
        self.client = client
        self.target = target
        self.interval = interval
        self.batch_size = batch_size
        self.delivered = 0
        self.dropped = 0
        self._pending: list[dict[str, Any]] = []
        self._seen: set[tuple[str, int]] = set()
        self._lock = threading.Condition()
        self._first_pending_at = 0.0
        self._retry_at = 0.0
        self._pause = 1.0
        self._failing = False
        self._failures = 0
        """Failed posts so far; ``flush()`` compares it to notice a failure during its wait."""
        self._urgent = False
        self._closing = False
        self._most = MAX_BATCH
        """The most results a post takes: lowered when the service refused a batch as too large."""
        self._thread = threading.Thread(target=self._run, name="drover-reporter", daemon=True)
        self._thread.start()

    def report(self, result: ScenarioResult) -> None:
        """Queue one result; a scenario's attempt already queued or sent is ignored."""
        if len(result.id) > ID_LIMIT:
            return  # the service would refuse the batch; the results file still has it
        key = (result.id, result.attempt)
        with self._lock:
            if key in self._seen or self._closing:
                return
            self._seen.add(key)
            if not self._pending:
                self._first_pending_at = time.monotonic()
            self._pending.append(result_payload(result, self.target))
            if len(self._pending) >= self.batch_size:
                self._lock.notify_all()

    def flush(self, timeout: float) -> bool:
        """Post everything queued now; True when it all reached the facade within ``timeout``.

        Queue mode flushes before leasing again: the service hands a worker back its own
        unreported scenarios, so results must land first.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            failures = self._failures
            self._urgent = True
            self._lock.notify_all()
            while self._pending and self._failures == failures:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return not self._pending

    def close(self, timeout: float = 10.0) -> None:
        """Send what is left (one last try, bounded by ``timeout``) and stop the thread."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join(timeout)
        with self._lock:
            lost = len(self._pending)
        if lost or self.dropped:
            _log(
                f"{lost + self.dropped} results did not reach the facade; "
                "the results file still holds them"
            )

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._due():
                    self._lock.wait(self._wait_time())
                closing = self._closing
                if not self._pending:
                    return  # closing with nothing left
                batch = self._pending[: self._most]
                # This loop paces its own retries; the client adds one quick retry for a blip.
                attempts = 1 if closing and self._failing else POST_ATTEMPTS
            ok = self._post(batch, attempts)
            with self._lock:
                if ok is None:  # too large: the same results again, fewer at a time
                    continue
                if ok:
                    del self._pending[: len(batch)]  # report() only appends, so these are ours
                    self._first_pending_at = time.monotonic()
                    self._urgent = self._urgent and bool(self._pending)
                else:
                    self._failures += 1
                    self._urgent = False
                    self._retry_at = time.monotonic() + self._pause
                    self._pause = min(MAX_PAUSE, self._pause * 2)
                self._lock.notify_all()
                if closing and (not ok or not self._pending):
                    return

    def _due(self) -> bool:
        """Called with the lock held: is it time to post (or to stop)?"""
        if self._closing:
            return True
        if not self._pending or time.monotonic() < self._retry_at:
            return False
        full = len(self._pending) >= self.batch_size
        waited = time.monotonic() - self._first_pending_at >= self.interval
        return self._urgent or full or waited

    def _wait_time(self) -> float:
        now = time.monotonic()
        if now < self._retry_at:
            return self._retry_at - now
        if self._pending:
            return max(0.01, self._first_pending_at + self.interval - now)
        return self.interval

    def _post(self, batch: list[dict[str, Any]], attempts: int) -> bool | None:
        """True when the batch is finished with (delivered, or refused for good), False when
        it is to be tried again later, None when it was too large (post it again in parts)."""
        try:
            self.client.post_results(batch, attempts=attempts)
        except FacadeRejected as exc:
            if exc.status == TOO_LARGE and len(batch) > 1:
                self._most = len(batch) // 2
                return None
            # Retrying the same batch cannot help: count it as gone, keep the shard going.
            _log(f"the facade refused {len(batch)} results ({exc}); dropping that batch")
            self.dropped += len(batch)
            return True
        except FacadeError as exc:
            if not self._failing:
                _log(f"cannot post results ({exc}); carrying on, will retry")
            self._failing = True
            return False
        if self._failing:
            _log("the facade is reachable again; posting results")
        self._failing = False
        self._pause = 1.0
        self.delivered += len(batch)
        return True


def _log(message: str) -> None:
    print(f"drover-agent: facade: {message}", file=sys.stderr, flush=True)
