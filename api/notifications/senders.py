"""Sending one event to one channel: the only code that talks to receivers. Used by the
delivery worker, the "send test" action and pipelines' tool jobs alike.

HTTP goes through httpx (webhook, Slack, Discord); email through the standard library's
smtplib. Every call returns an ``Outcome`` (never raises for a receiver's failure), which the
worker logs as one attempt.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from api.notifications.secrets import SecretResolver, describe_ref
from engine.errors import SpecError
from engine.notifications.messages import Rendered
from engine.notifications.signing import SIGNATURE_HEADER, sign
from engine.notifications.subscription import (
    Channel,
    DiscordChannel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
    check_http_url,
)

__all__ = ["EXCERPT", "Outcome", "destination_of", "send"]

EXCERPT: Final = 500
"""Characters of a response kept in the delivery log."""
USER_AGENT: Final = "Drover-Notifications/1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    http_status: int | None
    latency_ms: float
    response: str | None = None
    error: str | None = None
    retry_after: float | None = None
    """Seconds the receiver asked us to wait (HTTP 429/503 ``Retry-After``)."""


def destination_of(channel: Channel) -> str:
    """What a rate limit and a circuit breaker count by: the receiver's origin, or the secret
    reference its URL comes from (the URL itself is a secret), or the SMTP server."""
    if isinstance(channel, EmailChannel):
        return f"email:{channel.smtp.host}:{channel.smtp.port}"
    if isinstance(channel, WebhookChannel) and channel.url is not None:
        parts = urlsplit(channel.url)
        return f"webhook:{parts.scheme}://{parts.netloc}"
    assert not isinstance(channel, EmailChannel) and channel.url_from is not None
    return f"{channel.type}:{describe_ref(channel.url_from)}"


def send(
    channel: Channel,
    message: Rendered,
    *,
    secrets: SecretResolver,
    client: httpx.Client,
    now: float | None = None,
) -> Outcome:
    """Deliver ``message`` (an event's, or a tool job's) over ``channel`` once."""
    started = time.perf_counter()
    try:
        if isinstance(channel, EmailChannel):
            reply = _send_email(channel, message, secrets)
            return Outcome(True, None, _ms(started), response=reply)
        url, body, headers = _http_request(channel, message, secrets, now or time.time())
    except SpecError as exc:  # a missing secret, a URL that is not one
        return Outcome(False, None, _ms(started), error=str(exc))
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, None, _ms(started), error=_smtp_error(exc))
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(False, None, _ms(started), error=f"{type(exc).__name__}: {exc}"[:EXCERPT])
    latency = _ms(started)
    text = response.text[:EXCERPT] if response.content else None
    if response.is_success:
        return Outcome(True, response.status_code, latency, response=text)
    return Outcome(
        False,
        response.status_code,
        latency,
        response=text,
        error=f"HTTP {response.status_code} {response.reason_phrase}",
        retry_after=_retry_after(response),
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _http_request(
    channel: Channel, message: Rendered, secrets: SecretResolver, now: float
) -> tuple[str, bytes, dict[str, str]]:
    assert not isinstance(channel, EmailChannel)
    if channel.url_from is not None:
        url = secrets.resolve(channel.url_from, "channel.url_from")
        try:
            check_http_url(url)
        except ValueError as exc:
            raise SpecError("channel.url_from", f"the secret holds no usable URL: {exc}") from None
    else:
        assert isinstance(channel, WebhookChannel) and channel.url is not None
        url = channel.url
    payload: dict[str, Any]
    if isinstance(channel, SlackChannel):
        payload = message.slack
    elif isinstance(channel, DiscordChannel):
        payload = message.discord
    else:
        payload = message.webhook
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": message.key,
        "Drover-Event": message.kind,
    }
    if isinstance(channel, WebhookChannel) and channel.signing_secret is not None:
        secret = secrets.resolve(channel.signing_secret, "channel.signing_secret")
        headers[SIGNATURE_HEADER] = sign(secret, body, int(now))
    return url, body, headers


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _send_email(channel: EmailChannel, rendered: Rendered, secrets: SecretResolver) -> str:
    mail = rendered.email
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Date"] = formatdate(localtime=False)
    # The same event gives the same Message-ID, which mail systems deduplicate on.
    digest = hashlib.sha256(rendered.key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@drover.notifications>"
    message["X-Drover-Event"] = rendered.key
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    smtp = channel.smtp
    password = (
        secrets.resolve(smtp.password_from, "channel.smtp.password_from")
        if smtp.password_from is not None
        else None
    )
    server: smtplib.SMTP
    if smtp.security == "tls":
        server = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with server:
        if smtp.security == "starttls":
            server.starttls(context=ssl.create_default_context())
        if smtp.username and password is not None:
            server.login(smtp.username, password)
        refused = server.send_message(message)
        code, reply = server.noop()
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)
    return f"accepted for {len(channel.to)} recipient(s); {code} {reply.decode(errors='replace')}"


def _smtp_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:EXCERPT]
