"""What each channel receives for an event: the webhook's JSON body, a Slack message, a
Discord message and an email (text and HTML). Readable first: a headline with the verdict and
counts, then links to the run page and the Argo UI."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Final

from engine.notifications.events import Counts, Event, EventType, Verdict

__all__ = [
    "Email",
    "Rendered",
    "discord_message",
    "email_message",
    "headline",
    "render_event",
    "render_text",
    "slack_message",
    "webhook_body",
]

_ICONS: Final = {
    Verdict.PASSED: "✅",
    Verdict.FAILED: "❌",
    Verdict.ERROR: "💥",
    Verdict.CANCELED: "⏹",
}
_COLOURS: Final = {  # Discord embed colours
    Verdict.PASSED: 0x2EB67D,
    Verdict.FAILED: 0xE01E5A,
    Verdict.ERROR: 0xE01E5A,
    Verdict.CANCELED: 0x999999,
}
_ORDER: Final = ("failed", "error", "not_run", "passed", "skipped")


def count_parts(counts: Counts) -> list[tuple[str, int]]:
    """Non-zero counts, what needs attention first (``failed``, ``error``, ``not run``...)."""
    values = {**counts.model_dump(), "not_run": counts.not_run}
    return [(name.replace("_", " "), values[name]) for name in _ORDER if values[name]]


def _counts_text(counts: Counts | None) -> str:
    if counts is None:
        return ""
    parts = count_parts(counts)
    return ", ".join(f"{n} {name}" for name, n in parts) or "no scenarios"


def headline(event: Event) -> str:
    """One line saying what happened, e.g. ``❌ nightly failed — 1 failed, 23 passed``."""
    name = event.run.name if event.run else (event.schedule.target if event.schedule else "")
    what = f"{name} run {event.run.id}" if event.run else name
    if event.type is EventType.RUN_STARTED:
        return f"▶ {what} started"
    if event.type is EventType.RUN_FINISHED and event.verdict is not None:
        counts = _counts_text(event.counts)
        return f"{_ICONS[event.verdict]} {what} {event.verdict.value} — {counts}"
    if event.type is EventType.GROUP_FINISHED and event.group is not None:
        icon = _ICONS[event.verdict] if event.verdict else ""
        counts = _counts_text(event.group.counts)
        return f"{icon} group {event.group.name} of {what} {event.group.phase.lower()} — {counts}"
    if event.type is EventType.RUN_FAILED_TO_START:
        return f"💥 {what} failed to start: {event.message or 'no reason given'}"
    if event.type is EventType.SCENARIO_FLAKY and event.scenario is not None:
        return (
            f"⚠ scenario {event.scenario.id} became flaky in {what}: "
            f"passed on attempt {event.scenario.attempts}"
        )
    if event.type is EventType.SCHEDULE_SKIPPED and event.schedule is not None:
        return (
            f"⏭ schedule {event.schedule.id} of {event.schedule.target} skipped: run "
            f"{event.schedule.active_run} is still going (concurrency policy "
            f"{event.schedule.policy})"
        )
    return f"{event.type.value} {what}".strip()


def webhook_body(event: Event) -> dict[str, Any]:
    """The event itself, with the key a receiver deduplicates on."""
    return {"idempotency_key": event.id, **event.model_dump(mode="json", exclude_none=True)}


def _links(event: Event) -> list[tuple[str, str]]:
    if event.run is None:
        return []
    links = [("Run page", event.run.url)] if event.run.url else []
    if event.run.argo_url:
        links.append(("Argo UI", event.run.argo_url))
    return links


def _fields(event: Event) -> list[tuple[str, str]]:
    counts = event.group.counts if event.group else event.counts
    fields = [(name.capitalize(), str(n)) for name, n in count_parts(counts)] if counts else []
    if event.run is not None:
        fields.append(("Trigger", event.run.trigger.value))
        if event.run.attempt > 1:
            fields.append(("Attempt", str(event.run.attempt)))
    if event.scenario is not None and event.scenario.errors:
        fields.append(("Earlier error", event.scenario.errors[0][:500]))
    if event.message and event.type is not EventType.RUN_FAILED_TO_START:
        fields.append(("Message", event.message[:500]))
    return fields


def slack_message(event: Event) -> dict[str, Any]:
    """A Slack incoming-webhook payload: ``text`` (notifications) and Block Kit blocks."""
    title = headline(event)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(title)}*"}}
    ]
    fields = _fields(event)
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{k}*\n{_slack_escape(v)}"} for k, v in fields[:10]
                ],
            }
        )
    links = _links(event)
    if links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
                    for label, url in links
                ],
            }
        )
    return {"text": title, "blocks": blocks}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def discord_message(event: Event) -> dict[str, Any]:
    """A Discord webhook payload: ``content`` plus one embed with counts and links."""
    title = headline(event)
    links = _links(event)
    embed: dict[str, Any] = {
        "title": title[:256],
        "timestamp": event.occurred_at.isoformat(),
        "fields": [
            {"name": k, "value": v[:1024], "inline": len(v) < 40} for k, v in _fields(event)[:25]
        ],
    }
    if links:
        embed["url"] = links[0][1]
        embed["description"] = " · ".join(f"[{label}]({url})" for label, url in links)
    if event.verdict is not None:
        embed["color"] = _COLOURS[event.verdict]
    return {"content": title[:2000], "embeds": [embed], "allowed_mentions": {"parse": []}}


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def email_message(event: Event) -> Email:
    title = headline(event)
    rows = _fields(event)
    links = _links(event)
    text = (
        "\n".join(
            [title, "", *(f"{k}: {v}" for k, v in rows), "", *(f"{k}: {u}" for k, u in links)]
        ).rstrip()
        + f"\n\n(event {event.id})\n"
    )
    cells = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    anchors = " · ".join(
        f"<a href='{html.escape(u, quote=True)}'>{html.escape(k)}</a>" for k, u in links
    )
    body = (
        f"<html><body><h2>{html.escape(title)}</h2>"
        + (f"<table>{cells}</table>" if cells else "")
        + (f"<p>{anchors}</p>" if anchors else "")
        + f"<p style='color:#888'>event {html.escape(event.id)}</p></body></html>"
    )
    return Email(subject=title, text=text, html=body)


@dataclass(frozen=True)
class Rendered:
    """One message in every channel's shape, and the key a receiver deduplicates on."""

    key: str
    webhook: dict[str, Any]
    slack: dict[str, Any]
    discord: dict[str, Any]
    email: Email
    kind: str
    """What the ``Drover-Event`` header says: an event type, or ``tool``."""


def render_event(event: Event) -> Rendered:
    return Rendered(
        key=event.id,
        webhook=webhook_body(event),
        slack=slack_message(event),
        discord=discord_message(event),
        email=email_message(event),
        kind=event.type.value,
    )


def render_text(key: str, text: str, details: dict[str, Any]) -> Rendered:
    """A pipeline tool job's own message: ``text`` as written, ``details`` (pipeline, run,
    job) beside it in the webhook's body."""
    title = text.strip().splitlines()[0][:200] if text.strip() else "message from Drover"
    body = (
        f"<html><body><pre style='font-family:inherit;white-space:pre-wrap'>"
        f"{html.escape(text)}</pre></body></html>"
    )
    return Rendered(
        key=key,
        webhook={"idempotency_key": key, "type": "tool", "message": text, **details},
        slack={
            "text": text[:3000],
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
        },
        discord={"content": text[:2000], "allowed_mentions": {"parse": []}},
        email=Email(subject=title, text=text if text.endswith("\n") else text + "\n", html=body),
        kind="tool",
    )
