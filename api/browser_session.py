"""Browser sessions: a token exchanged once for an HttpOnly cookie, plus a CSRF cookie.

The dashboard (and any browser client, ``EventSource`` included) cannot set ``Authorization``
on every request, so a caller signs in with a token and gets a short-lived session token in an
HttpOnly, ``SameSite=Strict`` cookie. State-changing requests authenticated by that cookie must
echo the readable CSRF cookie in the ``X-CSRF-Token`` header (the double-submit pattern), so a
form on another site cannot act with the user's cookie.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from api.auth import Principal, create_token, hash_token
from api.models import ApiToken

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "csrf_matches",
    "end_session",
    "start_session",
]

SESSION_COOKIE = "drover_session"
CSRF_COOKIE = "drover_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = timedelta(hours=12)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def start_session(session: Session, principal: Principal) -> tuple[str, str, datetime]:
    """A new session token for ``principal`` (never a worker), its CSRF token and expiry."""
    expires_at = datetime.now(UTC) + SESSION_LIFETIME
    token = create_token(session, name=f"browser session of {principal.name}")
    row = session.query(ApiToken).filter_by(token_hash=hash_token(token)).one()
    row.expires_at = expires_at
    return token, secrets.token_urlsafe(24), expires_at


def end_session(session: Session, token: str) -> None:
    session.execute(delete(ApiToken).where(ApiToken.token_hash == hash_token(token)))


def csrf_matches(cookie: str | None, header: str | None) -> bool:
    return bool(cookie and header) and hmac.compare_digest(str(cookie), str(header))
