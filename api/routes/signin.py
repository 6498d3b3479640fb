"""Sign a browser in and out: a token for an HttpOnly session cookie (see api.browser_session)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from api.auth import authenticate, hash_token, recent_tokens
from api.browser_session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    end_session,
    start_session,
)
from api.deps import CallerDep, ServiceDep, SessionDep

router = APIRouter(prefix="/session", tags=["session"])


class SignIn(BaseModel):
    token: str = Field(min_length=1, max_length=500, description="an API token (not a worker's)")


class SessionOut(BaseModel):
    name: str = Field(description="who is signed in: the token's name")
    expires_at: datetime | None = None


@router.post(
    "",
    responses={401: {"description": "invalid token"}, 403: {"description": "a worker token"}},
)
def sign_in(
    body: SignIn, request: Request, response: Response, service: ServiceDep, session: SessionDep
) -> SessionOut:
    """Exchange a token for a session cookie (12 hours) and a CSRF cookie; state-changing
    requests signed in by the cookie send the CSRF cookie's value as ``X-CSRF-Token``."""
    principal = authenticate(session.connection(), body.token.strip(), service.settings.admin_token)
    if principal is None:
        raise HTTPException(401, "token: invalid or expired token")
    if principal.is_worker:
        raise HTTPException(403, "token: a worker token cannot sign in; use an API token")
    token, csrf, expires_at = start_session(session, principal)
    session.commit()
    secure = request.url.scheme == "https"
    max_age = int(SESSION_LIFETIME.total_seconds())
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, samesite="strict", secure=secure)
    return SessionOut(name=principal.name, expires_at=expires_at)


@router.get("", responses={401: {"description": "not signed in"}})
def whoami(caller: CallerDep) -> SessionOut:
    """Who the request is signed in as (bearer token or session cookie)."""
    return SessionOut(name=caller.name)


@router.delete("", status_code=204, responses={401: {"description": "not signed in"}})
def sign_out(request: Request, _: CallerDep, session: SessionDep) -> Response:
    """End the browser session: its token stops working and both cookies are cleared."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(session, token)
        session.commit()
        recent_tokens.forget(hash_token(token))  # refused from the next request on
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response
