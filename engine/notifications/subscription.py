"""Subscriptions: which events go where. The same model is a ``notify:`` entry of an execution
or pipeline spec and the body of ``POST /api/v1/notifications``.

Secrets never appear in a subscription: a Slack or Discord URL, a webhook's signing secret and
an SMTP password are references, to an environment variable of the facade (``env: NAME``) or
to a key of a Kubernetes Secret mounted into the facade (``secret: {name, key}``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from engine.notifications.event_types import EventType, Trigger, Verdict

if TYPE_CHECKING:
    from engine.notifications.events import Event

__all__ = [
    "Channel",
    "DiscordChannel",
    "EmailChannel",
    "EnvRef",
    "Filter",
    "KubeSecretRef",
    "Notify",
    "SecretSource",
    "SlackChannel",
    "SmtpServer",
    "WebhookChannel",
    "check_email",
    "check_http_url",
    "matches",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def check_http_url(value: str) -> str:
    """An absolute http(s) URL with a host; anything else can never be delivered to."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{value!r} cannot be delivered to: use an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError(f"{value!r} has no host; use e.g. https://hooks.example.com/drover")
    if port == 0:
        raise ValueError(f"{value!r}: port 0 is not a port")
    return value


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$")


def check_email(value: str) -> str:
    """A plain address ``local@domain.tld`` (no display name, no spaces, a dotted domain)."""
    if len(value) > 254 or not _EMAIL.match(value) or ".." in value:
        raise ValueError(f"{value!r} is not an email address; use e.g. qa-team@example.com")
    return value


HttpUrl = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(check_http_url)
]
EmailAddress = Annotated[
    str, StringConstraints(min_length=3, max_length=254), AfterValidator(check_email)
]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)]


class EnvRef(_Model):
    """A secret held in an environment variable of the facade."""

    env: EnvName


class SecretKey(_Model):
    """A key of a Kubernetes Secret (the shape of ``engine.spec.SecretRef``, which imports
    this module, so it is declared again here)."""

    name: Annotated[
        str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)
    ]
    key: Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)]


class KubeSecretRef(_Model):
    """A key of a Kubernetes Secret mounted into the facade (``<secrets dir>/<name>/<key>``)."""

    secret: SecretKey


SecretSource = EnvRef | KubeSecretRef


class WebhookChannel(_Model):
    """JSON POST of the event, signed with HMAC-SHA256 when a signing secret is set."""

    type: Literal["webhook"]
    url: HttpUrl | None = Field(None, description="the receiver's URL, when it is not a secret")
    url_from: SecretSource | None = Field(None, description="the URL, from a secret")
    signing_secret: SecretSource | None = Field(
        None, description="signs the body: header Drover-Signature: t=<unix>,v1=<hmac hex>"
    )

    @model_validator(mode="after")
    def _one_url(self) -> Self:
        if (self.url is None) == (self.url_from is None):
            raise ValueError("set exactly one of 'url' or 'url_from' (a secret reference)")
        return self


_SECRET_URL_SERVICES = {"slack": "Slack", "discord": "Discord"}
"""Channels whose incoming-webhook URL is itself the credential: accepted only by reference."""


class _SecretUrlChannel(_Model):
    """A chat service's incoming webhook; its URL is a secret, so only by reference."""

    type: str
    url_from: SecretSource

    @model_validator(mode="before")
    @classmethod
    def _url_is_secret(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            service = _SECRET_URL_SERVICES.get(str(data.get("type")), "chat")
            raise ValueError(
                f"a {service} webhook URL is a secret: give it as url_from: {{env: NAME}} or "
                "url_from: {secret: {name: ..., key: ...}}, not as url"
            )
        return data


class SlackChannel(_SecretUrlChannel):
    """A Slack incoming webhook."""

    type: Literal["slack"]


class DiscordChannel(_SecretUrlChannel):
    """A Discord channel webhook."""

    type: Literal["discord"]


class SmtpServer(_Model):
    host: Annotated[
        str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")
    ]
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_from: SecretSource | None = None
    timeout: float = Field(10.0, gt=0, le=120)


class EmailChannel(_Model):
    """A mail in plain text and HTML, sent over SMTP."""

    type: Literal["email"]
    to: list[EmailAddress] = Field(min_length=1, max_length=50)
    sender: EmailAddress = Field(alias="from")
    smtp: SmtpServer

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Channel = Annotated[
    WebhookChannel | SlackChannel | DiscordChannel | EmailChannel, Field(discriminator="type")
]


class Filter(_Model):
    """Deliver only events that match every list given (an empty list matches all)."""

    verdict: list[Verdict] = Field(
        default_factory=list, description="only runs that ended so (run.finished, group.finished)"
    )
    trigger: list[Trigger] = Field(
        default_factory=list, description="only runs started so, e.g. [schedule]"
    )


class Notify(_Model):
    """One subscription: these events, so filtered, to this channel."""

    events: list[EventType] = Field(min_length=1)
    filter: Filter = Field(default_factory=Filter)
    channel: Channel


def matches(notify: Notify, event: Event) -> bool:
    """Whether ``notify`` wants ``event``."""
    if event.type not in notify.events:
        return False
    if notify.filter.verdict and event.verdict not in notify.filter.verdict:
        return False
    if notify.filter.trigger:
        trigger = event.run.trigger if event.run is not None else Trigger.SCHEDULE
        if trigger not in notify.filter.trigger:
            return False
    return True
