"""Bearer tokens: stored as SHA-256 hashes; a worker token is scoped to one run, or to the runs
one schedule starts (the token a CronWorkflow's workers carry).

A worker token is revoked while its run is finished: it is still recognised (so the answer is
403 "the run has finished", not 401 "who are you"), but no route opens to it. A retry (the run
goes back to Running) needs it again, so the rule follows the run's phase instead of deleting
the token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from api.models import ApiToken, Run
from api.runs.attempts import FINAL_PHASES

__all__ = [
    "Principal",
    "RecentTokens",
    "admin_principal",
    "authenticate",
    "create_token",
    "hash_token",
    "new_token",
    "recent_tokens",
]

TOKEN_PREFIX = "drv_"


@dataclass(frozen=True)
class Principal:
    name: str
    run_id: str | None = None
    """Set for worker tokens: only that run's results and leases are open to them."""
    schedule_id: int | None = None
    """Set for a schedule's worker token: the runs that schedule started are open to them."""
    ended: str | None = None
    """For a run's worker token while that run is finished: its final phase (every route
    refuses the token with 403 until a retry puts the run back to Running)."""
    expires_at: datetime | None = None
    """When the token stops working (None: it does not expire)."""

    def may_access(self, run: Run) -> bool:
        if not self.is_worker:
            return True
        if run.phase in FINAL_PHASES:
            return False
        if self.run_id is not None:
            return self.run_id == run.id
        return run.schedule_id is not None and run.schedule_id == self.schedule_id

    @property
    def is_worker(self) -> bool:
        return self.run_id is not None or self.schedule_id is not None


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    name: str,
    run_id: str | None = None,
    schedule_id: int | None = None,
    token: str | None = None,
) -> str:
    """Store a token's hash and return the token (the only time it is visible)."""
    token = token or new_token()
    session.add(
        ApiToken(name=name, token_hash=hash_token(token), run_id=run_id, schedule_id=schedule_id)
    )
    session.flush()
    return token


def admin_principal(token: str, admin_token: str | None) -> Principal | None:
    """The admin for the configured admin token (no database needed), else None."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(name="admin")
    return None


_TOKEN: Final = """
    SELECT t.name, t.run_id, t.schedule_id, t.expires_at, r.phase, r.id IS NOT NULL AS run_found
    FROM drover_api_tokens AS t LEFT JOIN drover_runs AS r ON r.id = t.run_id
    WHERE t.token_hash = %(token_hash)s
"""
"""A token and, for a run's worker token, its run's phase: one statement, as every request
authenticated by a token (or a browser session) reads it."""


def authenticate(connection: Connection, token: str, admin_token: str | None) -> Principal | None:
    admin = admin_principal(token, admin_token)
    if admin is not None:
        return admin
    row = connection.exec_driver_sql(_TOKEN, {"token_hash": hash_token(token)}).first()
    if row is None or (row.expires_at is not None and row.expires_at < datetime.now(UTC)):
        return None
    ended = None
    if row.run_id is not None:
        if not row.run_found:
            return None  # its run was deleted: nothing left to recognise it by
        ended = row.phase if row.phase in FINAL_PHASES else None
    return Principal(
        name=row.name,
        run_id=row.run_id,
        schedule_id=row.schedule_id,
        ended=ended,
        expires_at=row.expires_at,
    )


class RecentTokens:
    """API tokens and browser sessions looked up in the last ``max_age`` seconds, by token
    hash: a frontend sends the same token with every request, and looking it up cost each one
    a statement and a hop to a worker thread (a fifth of a results page's time). Worker tokens
    are never kept (their run's phase decides, from one request to the next); a kept token is
    still refused once past its expiry, and at once when its browser session ends here (sign
    out). Deleted by another process, it may work for ``max_age`` more."""

    def __init__(self, max_age: float = 1.0, size: int = 1024) -> None:
        self._max_age = max_age
        self._size = size
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(token_hash)
        if entry is None or time.monotonic() - entry[0] > self._max_age:
            return None
        principal = entry[1]
        if principal.expires_at is not None and principal.expires_at < datetime.now(UTC):
            return None
        return principal

    def put(self, token_hash: str, principal: Principal) -> None:
        if principal.is_worker or principal.ended is not None:
            return
        with self._lock:
            self._entries[token_hash] = (time.monotonic(), principal)
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, token_hash: str) -> None:
        with self._lock:
            self._entries.pop(token_hash, None)


recent_tokens = RecentTokens()
"""The process's tokens looked up lately (see :class:`RecentTokens`)."""
