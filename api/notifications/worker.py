"""The delivery worker: turns outbox events into deliveries and sends them.

Two steps, each in its own transaction and each claiming rows with ``FOR UPDATE SKIP LOCKED``
(so several facade replicas share the work without sending anything twice):

- dispatch: undispatched events → one ``drover_deliveries`` row per matching subscription
  (API subscriptions and the run's spec's ``notify:`` entries), and the event is marked
  dispatched, atomically;
- deliver: a batch of due deliveries is locked, sent, and their attempts logged and states
  updated in the same transaction. If the process dies meanwhile, Postgres rolls it back and
  the batch is due again: sent again with the same idempotency key (at least once, processed
  once by a receiver that deduplicates on the key), never lost.

Pacing is per destination and in memory (per replica): a token bucket, and a circuit breaker
that opens after ``breaker_threshold`` failures in a row; while it is open the destination's
deliveries stay pending (no attempt is spent), and one probe goes after ``breaker_reset``.
Failed attempts are retried with exponential backoff and jitter, up to ``max_attempts``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from api.models import (
    Delivery,
    DeliveryAttempt,
    Execution,
    Notification,
    OutboxEvent,
    PipelineRun,
    PipelineVersion,
    Run,
    Schedule,
)
from api.models import Pipeline as PipelineRow
from api.notifications.pacing import DestinationPacing
from api.notifications.secrets import SecretResolver
from api.notifications.senders import Outcome, destination_of, send
from api.settings import Settings
from engine.notifications.events import Event
from engine.notifications.messages import render_event
from engine.notifications.policy import backoff_delay
from engine.notifications.subscription import Channel, Notify, matches

__all__ = ["CHANNEL", "DeliveryPolicy", "DeliveryWorker", "Links", "record_attempt"]

log = logging.getLogger("drover.notifications")

CHANNEL: TypeAdapter[Channel] = TypeAdapter(Channel)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 12
    backoff_base: float = 5.0
    backoff_max: float = 600.0
    rate: float = 5.0
    burst: float = 10.0
    breaker_threshold: int = 5
    breaker_reset: float = 30.0
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.notify_max_attempts,
            backoff_base=settings.notify_backoff_base,
            backoff_max=settings.notify_backoff_max,
            rate=settings.notify_rate,
            burst=settings.notify_burst,
            breaker_threshold=settings.notify_breaker_threshold,
            breaker_reset=settings.notify_breaker_reset,
            timeout=settings.notify_timeout,
        )


@dataclass(frozen=True)
class Links:
    """Fills in the run page link of an event when it is sent (it depends on the facade)."""

    public_url: str
    run_page_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Links:
        return cls(public_url=settings.public_url, run_page_url=settings.run_page_url)

    def complete(self, event: Event) -> Event:
        if event.run is None or event.run.url:
            return event
        kind = event.run.kind
        if self.run_page_url:
            url = self.run_page_url.format(run_id=event.run.id, kind=kind)
        else:
            resource = "runs" if kind == "execution" else "pipeline-runs"
            url = f"{self.public_url.rstrip('/')}/api/v1/{resource}/{event.run.id}"
        return event.model_copy(update={"run": event.run.model_copy(update={"url": url})})


def record_attempt(
    session: Session, row: Delivery, outcome: Outcome, *, next_delay: float | None
) -> None:
    """Log one attempt and move the delivery on: delivered, due again after ``next_delay``
    seconds, or (``next_delay`` None after a failure) failed for good."""
    row.attempts += 1
    session.add(
        DeliveryAttempt(
            delivery_id=row.id,
            attempt=row.attempts,
            ok=outcome.ok,
            http_status=outcome.http_status,
            latency_ms=outcome.latency_ms,
            response=outcome.response,
            error=outcome.error,
        )
    )
    if outcome.ok:
        row.state, row.delivered_at, row.last_error = "delivered", datetime.now(UTC), None
        return
    row.last_error = outcome.error
    if next_delay is None:
        row.state = "failed"
    else:
        row.next_attempt_at = datetime.now(UTC) + timedelta(seconds=next_delay)


class DeliveryWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        secrets: SecretResolver,
        links: Links,
        policy: DeliveryPolicy | None = None,
        poll_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.secrets = secrets
        self.links = links
        self.policy = policy or DeliveryPolicy()
        self.poll_interval = poll_interval
        self.clock = clock
        self.client = httpx.Client(timeout=self.policy.timeout, follow_redirects=False)
        self.pacing = DestinationPacing(
            rate=self.policy.rate,
            burst=self.policy.burst,
            breaker_threshold=self.policy.breaker_threshold,
            breaker_reset=self.policy.breaker_reset,
            clock=clock,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="drover-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.client.close()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                busy = self.step()
                failures = 0
            except Exception as exc:  # the database is down, a bug: keep going, slower
                failures += 1
                log.warning("notification delivery failed (%d in a row): %s", failures, exc)
                busy = False
                self._stop.wait(min(0.5 * 2**failures, 30.0))
            if not busy:
                self._wake.wait(self._idle_wait())
                self._wake.clear()

    def _idle_wait(self) -> float:
        now = self.clock()
        soon = [until - now for until in self.pacing.closed(now).values()]
        return max(min([self.poll_interval, *soon]), 0.005)

    def step(self) -> bool:
        """Dispatch new events and try one delivery; True when there was something to do."""
        dispatched = self.dispatch()
        return self.deliver_batch() or dispatched > 0

    def drain(self, timeout: float = 30.0) -> None:
        """Work until nothing is due (tests and ``send test``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.step():
            pass

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, limit: int = 200) -> int:
        with self.sessions() as session, session.begin():
            events = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.dispatched.is_(False))
                .order_by(OutboxEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not events:
                return 0
            subscriptions = [
                (row.id, Notify.model_validate(row.spec))
                for row in session.scalars(select(Notification).where(Notification.enabled))
            ]
            parsed = [(outbox.id, Event.model_validate(outbox.payload)) for outbox in events]
            spec_entries = _spec_notify(session, [event for _, event in parsed])
            rows = []
            for event_id, event in parsed:
                targets: list[tuple[str, int | None, Notify]] = [
                    (f"notification:{sid}", sid, notify)
                    for sid, notify in subscriptions
                    if matches(notify, event)
                ]
                source, entries = spec_entries.get(event.id, ("", []))
                targets += [
                    (f"{source}#{index}", None, notify)
                    for index, notify in entries
                    if matches(notify, event)
                ]
                rows += [
                    {
                        "event_id": event_id,
                        "subscription_id": sid,
                        "source": source,
                        "channel": notify.channel.model_dump(
                            mode="json", by_alias=True, exclude_none=True
                        ),
                        "destination": destination_of(notify.channel),
                        "state": "pending",
                        "attempts": 0,
                    }
                    for source, sid, notify in targets
                ]
            if rows:
                session.execute(
                    insert(Delivery).on_conflict_do_nothing(index_elements=["event_id", "source"]),
                    rows,
                )
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([event_id for event_id, _ in parsed]))
                .values(dispatched=True)
            )
            return len(events)

    # ------------------------------------------------------------------ deliver

    def deliver_batch(self, limit: int = 25) -> bool:
        """Claim due deliveries of destinations that may be sent to, and send them; True when
        any was claimed. The claim, the attempts and the new states are one transaction."""
        now = self.clock()
        blocked = list(self.pacing.closed(now))
        with self.sessions() as session, session.begin():
            query = (
                select(Delivery, OutboxEvent.payload)
                .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                .where(Delivery.state == "pending", Delivery.next_attempt_at <= func.now())
            )
            if blocked:
                query = query.where(Delivery.destination.not_in(blocked))
            rows = session.execute(
                query.order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
                .with_for_update(of=Delivery, skip_locked=True)
            ).all()
            for row, payload in rows:
                if self._may_send(row.destination):
                    self._deliver(session, row, payload)
        return bool(rows)

    def _may_send(self, destination: str) -> bool:
        return self.admit(destination) == 0.0

    def admit(self, destination: str) -> float:
        """0.0 when a delivery to ``destination`` may go now, else the seconds until it may
        (``DestinationPacing.admit``); until then the worker claims none of its deliveries.
        Pipeline tool jobs ask the same question, so they share each destination's limit and
        breaker."""
        return self.pacing.admit(destination)

    def settle(self, destination: str, ok: bool) -> None:
        """Tell the destination's breaker how a delivery ``admit`` let through went."""
        self.pacing.settle(destination, ok)

    def _deliver(self, session: Session, row: Delivery, payload: dict[str, Any]) -> None:
        event = self.links.complete(Event.model_validate(payload))
        channel = CHANNEL.validate_python(row.channel)
        outcome = send(channel, render_event(event), secrets=self.secrets, client=self.client)
        self.settle(row.destination, outcome.ok)
        delay: float | None = 0.0
        if not outcome.ok:
            delay = self._retry_delay(row.attempts + 1, outcome)
            log.info(
                "delivery %d to %s failed (attempt %d): %s",
                row.id,
                row.destination,
                row.attempts + 1,
                outcome.error,
            )
        record_attempt(session, row, outcome, next_delay=delay)

    def _retry_delay(self, attempt: int, outcome: Outcome) -> float | None:
        if attempt >= self.policy.max_attempts:
            return None
        delay = backoff_delay(attempt, base=self.policy.backoff_base, cap=self.policy.backoff_max)
        return max(delay, min(outcome.retry_after or 0.0, self.policy.backoff_max))


def _entries(spec: Any) -> list[tuple[int, Notify]]:
    """The valid ``notify:`` entries of a stored spec, with their positions."""
    entries = []
    for index, entry in enumerate(
        (spec or {}).get("notify") or [] if isinstance(spec, dict) else []
    ):
        try:
            entries.append((index, Notify.model_validate(entry)))
        except ValidationError:
            continue  # specs are checked when stored; an older one may not pass any more
    return entries


def _spec_notify(
    session: Session, events: list[Event]
) -> dict[str, tuple[str, list[tuple[int, Notify]]]]:
    """Event id → (source name, ``notify:`` entries) of the spec behind each event, read with
    one query per kind: the run's own spec, the pipeline version's, the schedule's target's."""
    runs = {e.run.id for e in events if e.run is not None and e.run.kind == "execution"}
    pipeline_runs = {e.run.id for e in events if e.run is not None and e.run.kind == "pipeline"}
    schedules = {e.schedule.id for e in events if e.schedule is not None}
    run_specs: dict[str, Any] = {}
    if runs:
        run_specs = dict(session.execute(select(Run.id, Run.spec).where(Run.id.in_(runs))).all())
    pipeline_specs: dict[str, Any] = {}
    if pipeline_runs:
        pipeline_specs = dict(
            session.execute(
                select(PipelineRun.id, PipelineVersion.spec)
                .join(
                    PipelineVersion,
                    (PipelineVersion.pipeline_id == PipelineRun.pipeline_id)
                    & (PipelineVersion.version == PipelineRun.pipeline_version),
                )
                .where(PipelineRun.id.in_(pipeline_runs))
            ).all()
        )
    schedule_specs: dict[int, Any] = {}
    if schedules:
        schedule_specs = dict(
            session.execute(
                select(Schedule.id, func.coalesce(Execution.spec, PipelineRow.spec))
                .outerjoin(Execution, Execution.id == Schedule.execution_id)
                .outerjoin(PipelineRow, PipelineRow.id == Schedule.pipeline_id)
                .where(Schedule.id.in_(schedules))
            ).all()
        )
    found: dict[str, tuple[str, list[tuple[int, Notify]]]] = {}
    for event in events:
        if event.run is not None and event.run.kind == "execution":
            spec, source = run_specs.get(event.run.id), f"execution:{event.run.name}"
        elif event.run is not None:
            spec, source = pipeline_specs.get(event.run.id), f"pipeline:{event.run.name}"
        elif event.schedule is not None:
            spec, source = (
                schedule_specs.get(event.schedule.id),
                f"schedule:{event.schedule.target}",
            )
        else:
            continue
        entries = _entries(spec)
        if entries:
            found[event.id] = (source, entries)
    return found
