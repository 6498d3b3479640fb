"""Per-destination pacing, in memory (per process): a token bucket and a circuit breaker for
each destination, and how long each is closed. The delivery worker and pipeline tool jobs ask
the same object, so they share each destination's limit and breaker; ``drover run`` keeps one
for its tool jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.notifications.policy import BreakerState, CircuitBreaker, TokenBucket

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["SHORT_WAIT", "DestinationPacing"]

SHORT_WAIT = 0.05
"""Seconds ``admit`` sleeps for a destination's next token instead of answering "later"."""


class DestinationPacing:
    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        breaker_threshold: int,
        breaker_reset: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst = rate, burst
        self.breaker_threshold, self.breaker_reset = breaker_threshold, breaker_reset
        self.clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._closed: dict[str, float] = {}
        """Destination → clock time until which nothing is sent to it."""
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> DestinationPacing:
        return cls(
            rate=settings.notify_rate,
            burst=settings.notify_burst,
            breaker_threshold=settings.notify_breaker_threshold,
            breaker_reset=settings.notify_breaker_reset,
        )

    def closed(self, now: float) -> dict[str, float]:
        """The destinations closed at ``now``, each with the clock time it opens again."""
        with self._lock:
            return {dest: until for dest, until in self._closed.items() if until > now}

    def admit(self, destination: str) -> float:
        """0.0 when a delivery to ``destination`` may go now (a token is taken, a half-open
        breaker's probe is granted); else the seconds until it may. A short wait for a token is
        slept here."""
        with self._lock:
            now = self.clock()
            blocked = self._closed.get(destination, 0.0) - now
            if blocked > 0:
                return blocked
            breaker = self._breaker(destination)
            wait = breaker.allow(now)
            if wait > 0:
                self._closed[destination] = now + wait
                return wait
            bucket = self._bucket(destination)
            wait = bucket.take(now)
            if 0 < wait <= SHORT_WAIT:
                time.sleep(wait)
                wait = bucket.take(self.clock())
            if wait > 0:
                breaker.probing = False  # the probe did not go; the next claim may send it
                self._closed[destination] = now + wait
                return wait
            return 0.0

    def settle(self, destination: str, ok: bool) -> None:
        """Tell the destination's breaker how a delivery ``admit`` let through went."""
        with self._lock:
            breaker = self._breaker(destination)
            if ok:
                breaker.success()
                self._closed.pop(destination, None)
                return
            breaker.failure(self.clock())
            if breaker.state is BreakerState.OPEN:
                self._closed[destination] = self.clock() + self.breaker_reset

    def _breaker(self, destination: str) -> CircuitBreaker:
        breaker = self._breakers.get(destination)
        if breaker is None:
            breaker = self._breakers[destination] = CircuitBreaker(
                self.breaker_threshold, self.breaker_reset
            )
        return breaker

    def _bucket(self, destination: str) -> TokenBucket:
        bucket = self._buckets.get(destination)
        if bucket is None:
            bucket = self._buckets[destination] = TokenBucket(self.rate, self.burst)
        return bucket
