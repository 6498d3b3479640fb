"""``drover notifications list|add|remove|test|deliveries|events``: the subscriptions of
``/api/v1/notifications``, through the same service functions as the API, on the service's
database (``DATABASE_URL``, or the embedded Postgres under ``$DROVER_HOME``).

Secret references (``env:``, ``secret:``) are checked and resolved in this process: its
environment and ``DROVER_SECRETS_DIR``, as the facade's are for the API. Run it where the
facade runs (or with the same variables) for ``add`` and ``test`` to see the same secrets.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.console import abort, console
from engine.cli.options import DroverTyper
from engine.cli.service_db import service_session
from engine.errors import DroverError, SpecError
from engine.notifications.event_types import EventType

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.settings import Settings

__all__ = ["notifications_app"]

notifications_app = DroverTyper(
    help="Manage notification subscriptions, send a test, and read the delivery log.",
    no_args_is_help=True,
)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="table (default) or json (the API's items).")
]
LimitOption = Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")]
IdArgument = Annotated[int, typer.Argument(min=1, help="The notification's id (see list).")]


@contextmanager
def _service() -> Iterator[tuple[Settings, Session]]:
    """The service's settings and database; engine errors exit cleanly."""
    try:
        with service_session() as (settings, session):
            yield settings, session
    except DroverError as error:
        abort(error)


def _print_json(items: Any) -> None:
    sys.stdout.write(json.dumps(items, indent=2, default=str) + "\n")


def _read(file: str) -> dict[str, Any]:
    """The subscription document: a YAML or JSON file, or standard input for ``-``."""
    import yaml

    from engine import yaml_io
    from engine.loading import read_document

    if file != "-":
        return read_document(Path(file))
    try:
        data = yaml_io.load(sys.stdin.read())
    except yaml.YAMLError as exc:
        raise SpecError("-", f"not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError("-", "the document must be a mapping of fields")
    return data


def _channel(spec: dict[str, Any]) -> str:
    from api.notifications.senders import destination_of
    from engine.notifications.subscription import Notify

    fields = {k: spec[k] for k in ("events", "filter", "channel") if k in spec}
    return destination_of(Notify.model_validate(fields).channel)


def _filter(spec: dict[str, Any]) -> str:
    parts = [
        f"{key}: {', '.join(values)}"
        for key, values in (spec.get("filter") or {}).items()
        if values
    ]
    return "; ".join(parts) or "-"


@notifications_app.command("list")
def list_command(output: OutputOption = Output.TABLE, limit: LimitOption = 100) -> None:
    """List the subscriptions (secrets show only as references)."""
    from api.notifications.subscriptions import list_notifications, notification_view

    with _service() as (_, session):
        total, rows = list_notifications(session, limit=limit)
        views = [notification_view(row) for row in rows]
    if output is Output.JSON:
        _print_json(views)
        return
    table = Table("ID", "NAME", "ENABLED", "EVENTS", "FILTER", "CHANNEL")
    for view in views:
        table.add_row(
            str(view["id"]),
            escape(view["name"]),
            "yes" if view["enabled"] else "no",
            ", ".join(view["events"]),
            escape(_filter(view)),
            escape(_channel(view)),
        )
    console.print(table)
    console.print(f"{total} notification{'s' if total != 1 else ''}", highlight=False)


@notifications_app.command("add")
def add(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="YAML or JSON with name, events, filter and channel (the API's body); "
            "- reads standard input.",
        ),
    ],
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Save it switched off (enabled: false).")
    ] = False,
) -> None:
    """Add a subscription, after checking that the secrets it references are there."""
    from api.notifications.secrets import SecretResolver
    from api.notifications.subscriptions import NotificationIn, create_notification
    from engine.loading import validate_model

    try:
        body = validate_model(NotificationIn, _read(file))
    except DroverError as error:
        abort(error)
    with _service() as (settings, session):
        row = create_notification(
            session,
            name=body.name,
            notify=body.notify(),
            enabled=body.enabled and not disabled,
            secrets=SecretResolver(settings.secrets_dir, holder="the drover command"),
        )
        console.print(
            f"notification {row.id} [bold]{escape(row.name)}[/] added "
            f"({', '.join(e.value for e in body.events)} to {escape(_channel(row.spec))})",
            highlight=False,
        )


@notifications_app.command("remove")
def remove(notification: IdArgument) -> None:
    """Delete a subscription; its pending deliveries go with it (sent ones stay in the log)."""
    from api.notifications.subscriptions import delete_notification

    with _service() as (_, session):
        delete_notification(session, notification)
    console.print(f"notification {notification} removed", highlight=False)


@notifications_app.command("test")
def test(
    notification: IdArgument,
    event: Annotated[
        EventType | None,
        typer.Option(help="The made-up event to send (default: the first one subscribed)."),
    ] = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Send a made-up event to the subscription's channel now, once, and show the attempt.

    No retries and past the circuit breaker: the point is to see whether the destination
    works. Exits 1 when it was not delivered.
    """
    from api.notifications.secrets import SecretResolver
    from api.notifications.subscriptions import send_test
    from api.notifications.worker import Links

    with _service() as (settings, session):
        view = send_test(
            session,
            notification,
            event_type=event,
            secrets=SecretResolver(settings.secrets_dir, holder="the drover command"),
            links=Links.from_settings(settings),
            timeout=settings.notify_timeout,
        )
    attempt = view["attempts"][-1]
    if output is Output.JSON:
        _print_json(view)
    else:
        console.print(
            f"{view['event']} to {escape(view['destination'])}: "
            f"{'delivered' if attempt['ok'] else 'failed'} — {escape(_attempt_text(attempt))}",
            highlight=False,
        )
    if not attempt["ok"]:
        raise typer.Exit(1)


def _attempt_text(attempt: dict[str, Any]) -> str:
    status = f"HTTP {attempt['http_status']}" if attempt["http_status"] else "no answer"
    text = f"{status} in {attempt['latency_ms']:.0f} ms"
    detail = attempt["response"] or attempt["error"]
    return f"{text}: {' '.join(str(detail).split())[:200]}" if detail else text


@notifications_app.command("deliveries")
def deliveries(
    notification: Annotated[
        int | None,
        typer.Argument(min=1, help="Only this notification's (default: every delivery)."),
    ] = None,
    run: Annotated[str | None, typer.Option(help="Only those of this run's events.")] = None,
    state: Annotated[DeliveryState | None, typer.Option(help="Only those in this state.")] = None,
    output: OutputOption = Output.TABLE,
    limit: LimitOption = 50,
) -> None:
    """The delivery log: each delivery, newest first, with its last attempt."""
    from api.notifications.subscriptions import get_notification, list_deliveries

    with _service() as (_, session):
        if notification is not None:
            get_notification(session, notification)
        total, items = list_deliveries(
            session,
            notification_id=notification,
            run_id=run,
            state=state.value if state else None,
            limit=limit,
        )
    if output is Output.JSON:
        _print_json(items)
        return
    table = Table("ID", "EVENT", "FROM", "DESTINATION", "STATE", "ATTEMPTS", "LAST ATTEMPT")
    for item in items:
        last = item["attempts"][-1] if item["attempts"] else None
        table.add_row(
            str(item["id"]),
            escape(str(item["event"])),
            escape(item["source"]),
            escape(item["destination"]),
            item["state"],
            str(len(item["attempts"])),
            escape(_attempt_text(last)) if last else "-",
        )
    console.print(table)
    console.print(f"{len(items)} of {total} deliveries", highlight=False)


@notifications_app.command("events")
def events(
    run: Annotated[str | None, typer.Option(help="Only this run's events.")] = None,
    output: OutputOption = Output.TABLE,
    limit: LimitOption = 50,
) -> None:
    """The outbox: run events as stored, newest first, and whether each was dispatched."""
    from api.notifications.subscriptions import list_events

    with _service() as (_, session):
        total, items = list_events(session, run_id=run, limit=limit)
    if output is Output.JSON:
        _print_json(items)
        return
    table = Table("KEY", "TYPE", "OCCURRED", "VERDICT", "DISPATCHED")
    for item in items:
        table.add_row(
            escape(item["id"]),
            item["type"],
            str(item["occurred_at"]),
            str(item.get("verdict") or "-"),
            "yes" if item["dispatched"] else "no",
        )
    console.print(table)
    console.print(f"{len(items)} of {total} events", highlight=False)
