"""The pure parts of notifications: signatures, pacing (backoff, token bucket, breaker), the
verdict, flaky scenarios, subscription validation and the channels' message shapes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from engine.notifications.events import (
    Counts,
    Event,
    EventType,
    RunInfo,
    Verdict,
    flaky_scenarios,
    verdict_of,
)
from engine.notifications.messages import (
    discord_message,
    email_message,
    headline,
    slack_message,
    webhook_body,
)
from engine.notifications.policy import BreakerState, CircuitBreaker, TokenBucket, backoff_delay
from engine.notifications.signing import sign, verify
from engine.notifications.subscription import Notify, matches


def test_signature_round_trip_and_what_it_rejects() -> None:
    body = b'{"idempotency_key":"run.finished/abc/1"}'
    header = sign("s3cret", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify(header, "s3cret", body, now=1_700_000_100)
    assert not verify(header, "other", body, now=1_700_000_100)  # wrong secret
    assert not verify(header, "s3cret", body + b" ", now=1_700_000_100)  # tampered body
    assert not verify(header, "s3cret", body, now=1_700_000_000 + 301)  # replayed later
    rotated = header + ",v1=" + sign("new", body, 1_700_000_000).split("v1=")[1]
    assert verify(rotated, "new", body, now=1_700_000_000)  # several v1 while rotating
    assert not verify("v1=abc", "s3cret", body, now=0)  # no timestamp


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    rng = random.Random(7)
    for attempt, step in ((1, 1.0), (2, 2.0), (3, 4.0), (8, 60.0), (30, 60.0)):
        delays = [backoff_delay(attempt, base=1.0, cap=60.0, rng=rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # really random


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=10.0, burst=3.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.1)
    assert bucket.take(0.05) == pytest.approx(0.05)  # half a token saved up
    assert bucket.take(0.1) == 0.0
    assert bucket.take(100.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # capped at burst


def test_breaker_opens_after_threshold_probes_after_timeout_and_closes_on_success() -> None:
    breaker = CircuitBreaker(threshold=5, reset_after=30.0)
    for _ in range(4):
        assert breaker.allow(0.0) == 0.0
        breaker.failure(0.0)
    assert breaker.state is BreakerState.CLOSED
    breaker.failure(1.0)
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow(11.0) == pytest.approx(20.0)
    assert breaker.allow(31.0) == 0.0 and breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow(31.0) > 0  # one probe at a time
    breaker.failure(32.0)  # the probe failed: open again, for a full timeout
    assert breaker.state is BreakerState.OPEN and breaker.allow(40.0) > 0
    assert breaker.allow(62.0) == 0.0
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0


@pytest.mark.parametrize(
    ("phase", "counts", "canceled", "expected"),
    [
        ("Succeeded", {"total": 3, "passed": 3}, False, Verdict.PASSED),
        ("Failed", {"total": 3, "passed": 2, "failed": 1}, False, Verdict.FAILED),
        ("Succeeded", {"total": 3, "passed": 2, "failed": 1}, False, Verdict.FAILED),
        ("Failed", {"total": 3}, False, Verdict.ERROR),  # setup-env failed: nothing ran
        ("Error", {"total": 3, "passed": 1}, False, Verdict.ERROR),
        ("Failed", {"total": 3, "passed": 1}, True, Verdict.CANCELED),
        ("Failed", {"total": 3, "error": 1}, True, Verdict.CANCELED),
        ("Succeeded", {"total": 3, "passed": 2, "error": 1}, False, Verdict.ERROR),
        ("Succeeded", {"total": 3, "passed": 2}, False, Verdict.ERROR),  # one never ran
    ],
)
def test_verdict(phase: str, counts: dict[str, int], canceled: bool, expected: Verdict) -> None:
    assert verdict_of(phase, counts, canceled=canceled) is expected


def test_flaky_scenarios_passed_only_after_failing() -> None:
    rows = [
        ("a", 0, "failed", "AssertionError: 1 != 2\nmore"),
        ("a", 1, "passed", None),
        ("b", 0, "failed", None),
        ("b", 1, "failed", None),
        ("c", 0, "passed", None),
        ("c", 1, "passed", None),
    ]
    (flaky,) = flaky_scenarios(rows)
    assert (flaky.id, flaky.attempts, flaky.errors) == ("a", 2, ["AssertionError: 1 != 2"])


def _event(type_: EventType = EventType.RUN_FINISHED, **extra: object) -> Event:
    run = RunInfo(id="r1", name="nightly", url="http://drover/runs/r1", argo_url="http://argo/wf/x")
    base: dict[str, object] = {
        "id": Event.key(type_, "r1", 1),
        "type": type_,
        "occurred_at": datetime(2026, 12, 4, tzinfo=UTC),
        "run": run,
        "verdict": Verdict.FAILED,
        "counts": Counts(total=24, passed=22, failed=1, skipped=1),
    }
    return Event.model_validate({**base, **extra})


def test_messages_carry_verdict_counts_and_links() -> None:
    event = _event()
    assert headline(event) == "❌ nightly run r1 failed — 1 failed, 22 passed, 1 skipped"
    slack = slack_message(event)
    assert slack["text"] == headline(event)
    buttons = slack["blocks"][-1]["elements"]
    assert [b["url"] for b in buttons] == ["http://drover/runs/r1", "http://argo/wf/x"]
    discord = discord_message(event)
    assert discord["embeds"][0]["url"] == "http://drover/runs/r1"
    assert {"name": "Failed", "value": "1", "inline": True} in discord["embeds"][0]["fields"]
    mail = email_message(event)
    assert "Argo UI: http://argo/wf/x" in mail.text and "<a href='http://argo/wf/x'>" in mail.html
    body = webhook_body(event)
    assert body["idempotency_key"] == "run.finished/r1/1" and body["version"] == 1


def test_html_of_an_email_is_escaped() -> None:
    event = _event(message="<script>alert(1)</script>")
    assert "<script>" not in email_message(event).html


def _notify(**channel: object) -> dict[str, object]:
    return {"events": ["run.finished"], "channel": channel}


@pytest.mark.parametrize(
    ("channel", "field", "says"),
    [
        ({"type": "webhook", "url": "ftp://example.com/x"}, "url", "http:// or https://"),
        ({"type": "webhook", "url": "http:///nohost"}, "url", "no host"),
        ({"type": "webhook"}, "webhook", "exactly one of 'url' or 'url_from'"),
        ({"type": "slack", "url": "https://hooks.slack.com/x"}, "slack", "is a secret"),
        ({"type": "sms"}, "channel", "does not match any of the expected tags"),
        (
            {"type": "email", "to": ["not-an-address"], "from": "d@x.io", "smtp": {"host": "m"}},
            "to.0",
            "not an email address",
        ),
    ],
)
def test_invalid_channels_name_the_field(channel: dict[str, object], field: str, says: str) -> None:
    with pytest.raises(ValidationError) as info:
        Notify.model_validate(_notify(**channel))
    error = info.value.errors()[0]
    assert ".".join(str(p) for p in error["loc"]).endswith(field)
    assert says in error["msg"]


def test_unknown_event_name_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        Notify.model_validate(
            {"events": ["run.exploded"], "channel": {"type": "slack", "url_from": {"env": "SLACK"}}}
        )
    assert info.value.errors()[0]["loc"] == ("events", 0)


def test_filters_by_event_verdict_and_trigger() -> None:
    notify = Notify.model_validate(
        {
            "events": ["run.finished"],
            "filter": {"verdict": ["failed"], "trigger": ["schedule"]},
            "channel": {"type": "slack", "url_from": {"env": "SLACK"}},
        }
    )
    scheduled = _event().model_copy(
        update={"run": _event().run.model_copy(update={"trigger": "schedule"})}  # type: ignore[union-attr]
    )
    assert matches(notify, scheduled)
    assert not matches(notify, _event())  # started by hand
    assert not matches(notify, scheduled.model_copy(update={"verdict": Verdict.PASSED}))
    assert not matches(notify, scheduled.model_copy(update={"type": EventType.RUN_STARTED}))
