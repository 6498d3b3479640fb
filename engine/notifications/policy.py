"""How deliveries are paced, as plain objects over an injected clock (the seeds' tool actions):
exponential backoff with jitter between retries, a token bucket per destination, and a circuit
breaker per destination (closed → open after N failures in a row → half-open probe after a
timeout → closed on success, open again on failure)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker", "TokenBucket", "backoff_delay"]

_RNG = random.Random()


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds before retry number ``attempt`` (1 = the first retry): the exponential step
    ``base * 2**(attempt-1)`` capped at ``cap``, of which the upper half is random ("equal
    jitter"), so retries of many deliveries spread out yet never come sooner than half a step."""
    step = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return step / 2 + (rng or _RNG).uniform(0, step / 2)


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; one token per delivery."""

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    updated: float = 0.0

    def take(self, now: float) -> float:
        """Take a token: 0.0 if one was there, else the seconds until one will be (none taken)."""
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    threshold: int
    """Failures in a row that open the breaker."""
    reset_after: float
    """Seconds the breaker stays open before one probe may go through."""
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def allow(self, now: float) -> float:
        """0.0 when a delivery may go now, else the seconds until it may (a probe, at most one
        at a time while half-open)."""
        if self.state is BreakerState.OPEN:
            wait = self.opened_at + self.reset_after - now
            if wait > 0:
                return wait
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.HALF_OPEN:
            if self.probing:
                return self.reset_after
            self.probing = True
        return 0.0

    def success(self) -> None:
        self.state, self.failures, self.probing = BreakerState.CLOSED, 0, False

    def failure(self, now: float) -> None:
        self.failures += 1
        self.probing = False
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self.state, self.opened_at = BreakerState.OPEN, now
