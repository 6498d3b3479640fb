"""FastAPI dependencies: the service object, a database session per request, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import Principal, admin_principal, authenticate, hash_token, recent_tokens
from api.browser_session import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    csrf_matches,
)
from api.reads import Reads
from api.service import Service

__all__ = [
    "MAX_ID",
    "AdminDep",
    "CallerDep",
    "ReadsDep",
    "RowId",
    "Service",
    "ServiceDep",
    "SessionDep",
    "get_service",
]

MAX_ID = 2_147_483_647
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="a row id")]


# Dependencies that do no I/O are coroutines: FastAPI calls them on the event loop, where a
# plain function would cost each request a hop to a worker thread and back.


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_session(service: ServiceDep) -> AsyncIterator[Session]:
    """A session per request. Opening one does no I/O (it connects on first use), nor does
    closing one that never connected: only a session holding a connection (to roll back and
    return) is closed on a worker thread. A sync dependency would cost every request two hops
    to a worker thread and back, for nothing when the route reads elsewhere (``ReadsDep``)."""
    session = service.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_reads(service: ServiceDep) -> Reads:
    return service.reads


ReadsDep = Annotated[Reads, Depends(get_reads)]
"""Reads on autocommit connections (:mod:`api.reads`): for routes that only read a statement or
two, without the session's pre-ping, ``BEGIN`` and ``ROLLBACK``."""


BEARER = HTTPBearer(auto_error=False, description="an API token, or a run's worker token")
SESSION = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="the session of a browser signed in"
)


async def get_caller(
    request: Request,
    service: ServiceDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
    _cookie: Annotated[str | None, Security(SESSION)] = None,
) -> Principal:
    """The bearer token's principal or, without one, the browser session cookie's.

    ``_bearer`` and ``_cookie`` only document the two schemes in OpenAPI; the request is read
    here, so the answers name what is missing."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        token = request.cookies.get(SESSION_COOKIE, "")
        if not token:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        if request.method not in SAFE_METHODS and not csrf_matches(
            request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)
        ):
            raise HTTPException(
                403, f"a request signed in by cookie must send the {CSRF_HEADER} header"
            )
    token = token.strip()
    admin_token = service.settings.admin_token
    # The admin token is known without the database, a token looked up lately is kept a
    # moment; any other is one statement on the reads' connections, on a worker thread (a
    # request needs no session of its own to be let in).
    token_hash = hash_token(token)
    principal = admin_principal(token, admin_token) or recent_tokens.get(token_hash)
    if principal is None:
        principal = await run_in_threadpool(
            service.reads.run, lambda connection: authenticate(connection, token, admin_token)
        )
        if principal is not None:
            recent_tokens.put(token_hash, principal)
    if principal is None:
        raise HTTPException(401, "invalid or expired token", headers={"WWW-Authenticate": "Bearer"})
    if principal.ended is not None:  # recognised, but revoked while its run is over
        raise HTTPException(
            403,
            f"run {principal.run_id} has finished ({principal.ended}): its workers' token is "
            "revoked until the run is retried",
        )
    return principal


CallerDep = Annotated[Principal, Depends(get_caller)]


async def require_admin(caller: CallerDep) -> Principal:
    if caller.is_worker:
        raise HTTPException(403, "a worker token may only report results and lease scenarios")
    return caller


AdminDep = Annotated[Principal, Depends(require_admin)]
