"""``/api/v1/notifications``: subscriptions, their delivery log, "send test", and the events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminDep, RowId, ServiceDep, SessionDep
from api.models import Notification
from api.notifications import subscriptions as service
from api.notifications.runtime import links_of, secrets_of, worker_of
from api.notifications.subscriptions import NotificationIn
from api.notifications.tools import ToolDenied, run_tool
from api.schemas import Page
from engine.notifications.events import EventType
from engine.notifications.subscription import Notify

router = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationOut(Notify):
    id: int
    name: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


def _out(row: Notification) -> NotificationOut:
    return NotificationOut.model_validate(service.notification_view(row))


DeliveryState = Literal["pending", "delivered", "failed"]


@router.get("/deliveries", response_model=Page[dict[str, Any]])
def list_all_deliveries(
    _: AdminDep,
    session: SessionDep,
    run_id: Annotated[str | None, Query(max_length=32)] = None,
    state: DeliveryState | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[dict[str, Any]]:
    """Every delivery (API subscriptions and specs' ``notify:``), newest first, with attempts."""
    total, items = service.list_deliveries(
        session, run_id=run_id, state=state, offset=offset, limit=limit
    )
    return Page[dict[str, Any]](total=total, offset=offset, limit=limit, items=items)


@router.get("/events", response_model=Page[dict[str, Any]])
def list_events(
    _: AdminDep,
    session: SessionDep,
    run_id: Annotated[str | None, Query(max_length=32)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[dict[str, Any]]:
    """The outbox: run events as stored, newest first."""
    total, items = service.list_events(session, run_id=run_id, offset=offset, limit=limit)
    return Page[dict[str, Any]](total=total, offset=offset, limit=limit, items=items)


@router.get("", response_model=Page[NotificationOut])
def list_notifications(
    _: AdminDep,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[NotificationOut]:
    total, rows = service.list_notifications(session, offset=offset, limit=limit)
    return Page[NotificationOut](
        total=total, offset=offset, limit=limit, items=[_out(r) for r in rows]
    )


@router.post("", status_code=201, response_model=NotificationOut)
def create(body: NotificationIn, _: AdminDep, service_: ServiceDep, session: SessionDep) -> Any:
    row = service.create_notification(
        session,
        name=body.name,
        notify=body.notify(),
        enabled=body.enabled,
        secrets=secrets_of(service_),
    )
    return _out(row)


@router.get("/{notification_id}", response_model=NotificationOut)
def get(notification_id: RowId, _: AdminDep, session: SessionDep) -> Any:
    return _out(service.get_notification(session, notification_id))


@router.put("/{notification_id}", response_model=NotificationOut)
def replace(
    notification_id: RowId,
    body: NotificationIn,
    _: AdminDep,
    service_: ServiceDep,
    session: SessionDep,
) -> Any:
    row = service.update_notification(
        session,
        notification_id,
        name=body.name,
        notify=body.notify(),
        enabled=body.enabled,
        secrets=secrets_of(service_),
    )
    return _out(row)


@router.delete("/{notification_id}", status_code=204)
def delete(notification_id: RowId, _: AdminDep, session: SessionDep) -> Response:
    service.delete_notification(session, notification_id)
    return Response(status_code=204)


@router.get("/{notification_id}/deliveries", response_model=Page[dict[str, Any]])
def deliveries(
    notification_id: RowId,
    _: AdminDep,
    session: SessionDep,
    state: DeliveryState | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[dict[str, Any]]:
    """The subscription's delivery log: each delivery with every attempt (status, latency,
    the start of the response)."""
    service.get_notification(session, notification_id)
    total, items = service.list_deliveries(
        session, notification_id=notification_id, state=state, offset=offset, limit=limit
    )
    return Page[dict[str, Any]](total=total, offset=offset, limit=limit, items=items)


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: EventType | None = Field(None, description="default: the first subscribed event")


@router.post("/{notification_id}/test")
def send_test(
    notification_id: RowId,
    _: AdminDep,
    service_: ServiceDep,
    session: SessionDep,
    body: TestIn | None = None,
) -> dict[str, Any]:
    """Send a made-up event to the channel now and return the attempt (no retries)."""
    return service.send_test(
        session,
        notification_id,
        event_type=body.event if body else None,
        secrets=secrets_of(service_),
        links=links_of(service_),
        timeout=service_.settings.notify_timeout,
    )


tools_router = APIRouter(tags=["pipelines"])


@tools_router.post("/pipeline-runs/{run_id}/tools/{job}")
async def run_tool_job(
    run_id: Annotated[str, PathParam(max_length=32)],
    job: Annotated[str, PathParam(max_length=63)],
    request: Request,
    service_: ServiceDep,
) -> JSONResponse:
    """A pipeline tool job's request (made by the run's workflow with the run's tool token):
    send the job's message now; 200 with the outcome when delivered, 502 when not."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    message = (await request.body()).decode("utf-8", errors="replace")

    def work() -> dict[str, Any]:
        with service_.sessions() as session:
            return run_tool(
                session,
                run_id=run_id,
                job=job,
                token=token.strip(),
                message=message,
                secrets=secrets_of(service_),
                timeout=service_.settings.notify_timeout,
                pacing=worker_of(service_),
            )

    try:
        outcome = await run_in_threadpool(work)
    except ToolDenied as exc:
        raise HTTPException(403, str(exc)) from None
    return JSONResponse(outcome, status_code=200 if outcome["status"] == "delivered" else 502)
