"""Subscriptions made over the API, deliveries and their attempt log, and "send test": the
service functions behind ``/api/v1/notifications`` (routes stay thin)."""

from __future__ import annotations

import secrets as pysecrets
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from pydantic import StringConstraints
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.models import Delivery, DeliveryAttempt, Notification, OutboxEvent
from api.notifications.secrets import SecretResolver
from api.notifications.senders import destination_of, send
from api.notifications.worker import Links, record_attempt
from engine.errors import Conflict, NotFound, SpecError
from engine.notifications.events import EventType
from engine.notifications.messages import render_event
from engine.notifications.samples import sample_event
from engine.notifications.subscription import (
    DiscordChannel,
    EmailChannel,
    Notify,
    SlackChannel,
    WebhookChannel,
)

__all__ = [
    "NotificationIn",
    "check_references",
    "create_notification",
    "delete_notification",
    "delivery_view",
    "get_notification",
    "list_deliveries",
    "list_events",
    "list_notifications",
    "notification_view",
    "send_test",
    "update_notification",
]

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class NotificationIn(Notify):
    """A subscription as it is given (the API's body, the CLI's file): a name, the events, an
    optional filter, and the channel."""

    name: Name
    enabled: bool = True

    def notify(self) -> Notify:
        return Notify.model_validate(self.model_dump(exclude={"name", "enabled"}, by_alias=True))


def check_references(notify: Notify, secrets: SecretResolver) -> None:
    """Every secret the channel references is available to the facade (SpecError naming the
    field otherwise), so a typo shows now rather than at the first failed delivery."""
    channel = notify.channel
    refs = []
    if (
        isinstance(channel, WebhookChannel | SlackChannel | DiscordChannel)
        and channel.url_from is not None
    ):
        refs.append(("channel.url_from", channel.url_from))
    if isinstance(channel, WebhookChannel) and channel.signing_secret is not None:
        refs.append(("channel.signing_secret", channel.signing_secret))
    if isinstance(channel, EmailChannel) and channel.smtp.password_from is not None:
        refs.append(("channel.smtp.password_from", channel.smtp.password_from))
    for field, ref in refs:
        secrets.resolve(ref, field)


def _spec(notify: Notify) -> dict[str, Any]:
    return notify.model_dump(mode="json", by_alias=True, exclude_none=True)


def create_notification(
    session: Session, *, name: str, notify: Notify, enabled: bool, secrets: SecretResolver
) -> Notification:
    check_references(notify, secrets)
    if session.scalar(select(Notification.id).where(Notification.name == name)) is not None:
        raise Conflict(f"a notification named {name!r} exists already")
    row = Notification(name=name, spec=_spec(notify), enabled=enabled)
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def notification_view(row: Notification) -> dict[str, Any]:
    """A stored subscription as the API shows it: its spec (secrets only as references), id,
    name, whether it is enabled, and when it was made and changed."""
    return {
        **row.spec,
        "id": row.id,
        "name": row.name,
        "enabled": row.enabled,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def list_notifications(
    session: Session, *, offset: int = 0, limit: int = 50
) -> tuple[int, list[Notification]]:
    """Subscriptions made over the API (or the CLI), oldest first, and how many there are."""
    total = session.scalar(select(func.count()).select_from(Notification)) or 0
    rows = session.scalars(
        select(Notification).order_by(Notification.id).offset(offset).limit(limit)
    )
    return int(total), list(rows)


def list_events(
    session: Session, *, run_id: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[int, list[dict[str, Any]]]:
    """The outbox: run events as stored, newest first, each with whether it was dispatched."""
    query = select(OutboxEvent)
    if run_id is not None:
        query = query.where(OutboxEvent.run_id == run_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(OutboxEvent.id.desc()).offset(offset).limit(limit))
    return int(total), [{**r.payload, "dispatched": r.dispatched} for r in rows]


def get_notification(session: Session, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"notification {notification_id} not found")
    return row


def update_notification(
    session: Session,
    notification_id: int,
    *,
    name: str,
    notify: Notify,
    enabled: bool,
    secrets: SecretResolver,
) -> Notification:
    row = get_notification(session, notification_id)
    check_references(notify, secrets)
    row.name, row.spec, row.enabled = name, _spec(notify), enabled
    row.updated_at = datetime.now(UTC)
    session.commit()
    session.refresh(row)
    return row


def delete_notification(session: Session, notification_id: int) -> None:
    """Delete it; its pending deliveries go with it (sent ones stay in the log)."""
    row = get_notification(session, notification_id)
    session.execute(
        delete(Delivery).where(
            Delivery.subscription_id == notification_id, Delivery.state == "pending"
        )
    )
    session.delete(row)
    session.commit()


def delivery_view(
    delivery: Delivery, attempts: list[DeliveryAttempt], event_key: str | None
) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event": event_key,
        "notification_id": delivery.subscription_id,
        "source": delivery.source,
        "destination": delivery.destination,
        "state": delivery.state,
        "attempts": [
            {
                "attempt": a.attempt,
                "ok": a.ok,
                "http_status": a.http_status,
                "latency_ms": a.latency_ms,
                "response": a.response,
                "error": a.error,
                "at": a.created_at,
            }
            for a in attempts
        ],
        "next_attempt_at": delivery.next_attempt_at if delivery.state == "pending" else None,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
    }


def list_deliveries(
    session: Session,
    *,
    notification_id: int | None = None,
    run_id: str | None = None,
    state: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[dict[str, Any]]]:
    """Deliveries newest first, each with its attempts (the delivery log)."""
    query = select(Delivery, OutboxEvent.key).outerjoin(
        OutboxEvent, OutboxEvent.id == Delivery.event_id
    )
    if notification_id is not None:
        query = query.where(Delivery.subscription_id == notification_id)
    if run_id is not None:
        query = query.where(OutboxEvent.run_id == run_id)
    if state is not None:
        query = query.where(Delivery.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Delivery.id.desc()).offset(offset).limit(limit)).all()
    ids = [d.id for d, _ in rows]
    attempts: dict[int, list[DeliveryAttempt]] = {i: [] for i in ids}
    if ids:
        for attempt in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(ids))
            .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.attempt)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return int(total), [delivery_view(d, attempts[d.id], key) for d, key in rows]


def send_test(
    session: Session,
    notification_id: int,
    *,
    event_type: EventType | None,
    secrets: SecretResolver,
    links: Links,
    timeout: float,
) -> dict[str, Any]:
    """Send a made-up event to the subscription's channel now, once (no retries, past the
    circuit breaker: the point is to see whether the destination works), and log it."""
    row = get_notification(session, notification_id)
    notify = Notify.model_validate(row.spec)
    type_ = event_type or notify.events[0]
    if type_ not in notify.events:
        raise SpecError(
            "event",
            f"the notification does not subscribe to {type_.value}",
            f"one of {', '.join(e.value for e in notify.events)}",
        )
    key = f"test/{notification_id}/{pysecrets.token_hex(6)}"
    event = links.complete(sample_event(type_, key, name=row.name))
    outbox = OutboxEvent(
        key=key,
        type=type_.value,
        version=event.version,
        payload=event.model_dump(mode="json", exclude_none=True),
        dispatched=True,
    )
    session.add(outbox)
    session.flush()
    delivery = Delivery(
        event_id=outbox.id,
        subscription_id=notification_id,
        source=f"test:{notification_id}",
        channel=_spec(notify)["channel"],
        destination=destination_of(notify.channel),
        state="pending",
        attempts=0,
    )
    session.add(delivery)
    session.flush()
    with httpx.Client(timeout=timeout) as client:
        outcome = send(notify.channel, render_event(event), secrets=secrets, client=client)
    record_attempt(session, delivery, outcome, next_delay=None)
    session.commit()
    _, views = list_deliveries(session, notification_id=notification_id, limit=1)
    return views[0]
