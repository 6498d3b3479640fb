"""Sending one pipeline tool job's message, as the facade's tool endpoint and ``drover run``
both do: the job's message rendered for its channel, paced by the destination's rate limit and
circuit breaker (waiting up to ``MAX_WAIT``), sent with the notifications' ``send``, and the
answer the job reads as its result. No database here: the facade logs the delivery itself."""

from __future__ import annotations

import time
from typing import Any, Protocol

import httpx

from api.notifications.secrets import SecretResolver
from api.notifications.senders import EXCERPT, Outcome, destination_of, send
from engine.notifications.messages import render_text
from engine.pipelines.model import ToolStep

__all__ = ["MAX_WAIT", "NotSent", "Pacing", "answer", "send_tool"]


class Pacing(Protocol):
    """A per-destination rate limit and circuit breaker (``DestinationPacing``)."""

    def admit(self, destination: str) -> float: ...

    def settle(self, destination: str, ok: bool) -> None: ...


MAX_WAIT = 10.0
"""Seconds a tool job waits for its destination's limit or breaker before it fails."""


class NotSent(Exception):
    """The destination stayed closed (rate limit or open breaker) longer than ``MAX_WAIT``."""


def _wait_for(pacing: Pacing, destination: str) -> float:
    """0.0 once admitted; else how long the destination stays closed beyond ``MAX_WAIT``."""
    deadline = time.monotonic() + MAX_WAIT
    while True:
        wait = pacing.admit(destination)
        if wait == 0.0:
            return 0.0
        if time.monotonic() + wait > deadline:
            return wait
        time.sleep(wait)


def send_tool(
    tool: ToolStep,
    *,
    run_id: str,
    job: str,
    pipeline: str,
    message: str,
    secrets: SecretResolver,
    timeout: float,
    pacing: Pacing | None,
) -> Outcome:
    """Send job ``job``'s ``message`` (its references already resolved by the workflow) to the
    tool's channel once; ``NotSent`` when the destination stays closed."""
    destination = destination_of(tool.channel)
    closed = _wait_for(pacing, destination) if pacing is not None else 0.0
    if closed > 0:  # not sent: the job fails and says why (its retries may try again)
        raise NotSent(
            f"not sent: {destination} is paused for {closed:.0f} s more (rate limit, "
            "or its circuit breaker is open after failures in a row)"
        )
    rendered = render_text(
        f"tool/{run_id}/{job}",
        message[: EXCERPT * 8],
        {"pipeline": pipeline, "run_id": run_id, "job": job},
    )
    with httpx.Client(timeout=timeout) as client:
        outcome = send(tool.channel, rendered, secrets=secrets, client=client)
    if pacing is not None:
        pacing.settle(destination, outcome.ok)
    return outcome


def answer(
    state: str,
    *,
    http_status: int | None,
    response: str | None,
    error: str | None,
    delivery: int | None,
) -> dict[str, Any]:
    """The tool endpoint's answer, the job's ``result``: ``status`` delivered or failed, the
    receiver's status and the start of its response, the error, and the delivery's id in the
    facade's log (None without one)."""
    return {
        "status": state,
        "http_status": http_status,
        "response": response,
        "error": error,
        "delivery": delivery,
    }
