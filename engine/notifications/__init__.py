"""Notifications, pure parts: run events, subscriptions, message shapes, signatures and the
delivery policy (backoff, rate limit, circuit breaker). ``api.notifications`` stores events in
an outbox and delivers them; nothing here does I/O."""

from engine.notifications.events import (
    SCHEMA_VERSION,
    Counts,
    Event,
    EventType,
    GroupInfo,
    RunInfo,
    ScenarioInfo,
    ScheduleInfo,
    Trigger,
    Verdict,
    verdict_of,
)
from engine.notifications.policy import CircuitBreaker, TokenBucket, backoff_delay
from engine.notifications.signing import SIGNATURE_HEADER, sign, verify
from engine.notifications.subscription import (
    Channel,
    DiscordChannel,
    EmailChannel,
    EnvRef,
    Filter,
    KubeSecretRef,
    Notify,
    SecretSource,
    SlackChannel,
    SmtpServer,
    WebhookChannel,
    matches,
)

__all__ = [
    "SCHEMA_VERSION",
    "SIGNATURE_HEADER",
    "Channel",
    "CircuitBreaker",
    "Counts",
    "DiscordChannel",
    "EmailChannel",
    "EnvRef",
    "Event",
    "EventType",
    "Filter",
    "GroupInfo",
    "KubeSecretRef",
    "Notify",
    "RunInfo",
    "ScenarioInfo",
    "ScheduleInfo",
    "SecretSource",
    "SlackChannel",
    "SmtpServer",
    "TokenBucket",
    "Trigger",
    "Verdict",
    "WebhookChannel",
    "backoff_delay",
    "matches",
    "sign",
    "verdict_of",
    "verify",
]
