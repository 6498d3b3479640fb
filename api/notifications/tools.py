"""The facade's side of pipeline tool jobs: ``POST /api/v1/pipeline-runs/<run>/tools/<job>``.

The request carries only the run's tool token and the job's message (references resolved by
the workflow); the channel comes from the pipeline version the run was started from, and its
secrets from the facade. It is sent with the notifications' ``send`` and logged as a delivery
with its attempt. A job retried (by Argo, or resent after a lost answer) finds its delivery
done and gets the same answer without a second message: one message per job and run.
"""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import hash_token
from api.models import Delivery, DeliveryAttempt, PipelineRun, PipelineVersion
from api.notifications.secrets import SecretResolver
from api.notifications.senders import destination_of
from api.notifications.tool_send import MAX_WAIT, NotSent, Pacing, answer, send_tool
from api.notifications.worker import record_attempt
from engine.errors import NotFound
from engine.pipelines import parse_pipeline
from engine.pipelines.model import ToolStep
from engine.status import FINAL_PHASES

__all__ = ["MAX_WAIT", "Pacing", "ToolDenied", "run_tool"]


class ToolDenied(Exception):
    """The token is not this run's, or the run has ended."""


def _tool_of(session: Session, run: PipelineRun, job: str) -> ToolStep:
    version = (
        session.get(PipelineVersion, (run.pipeline_id, run.pipeline_version))
        if run.pipeline_id is not None and run.pipeline_version is not None
        else None
    )
    if version is None:
        raise NotFound(f"the pipeline of run {run.id} is gone")
    pipeline = parse_pipeline(version.spec)
    jobs = {j.name: j for j in pipeline.all_jobs()}
    if pipeline.on_exit is not None:
        jobs[pipeline.on_exit.name] = pipeline.on_exit
    found = jobs.get(job)
    if found is None or found.tool is None:
        raise NotFound(f"run {run.id} has no tool job {job!r}")
    return found.tool


def _answer(delivery: Delivery, attempt: DeliveryAttempt | None) -> dict[str, Any]:
    return answer(
        delivery.state,
        http_status=attempt.http_status if attempt else None,
        response=attempt.response if attempt else None,
        error=delivery.last_error,
        delivery=delivery.id,
    )


def run_tool(
    session: Session,
    *,
    run_id: str,
    job: str,
    token: str,
    message: str,
    secrets: SecretResolver,
    timeout: float,
    pacing: Pacing | None = None,
) -> dict[str, Any]:
    """Send job ``job`` of run ``run_id`` once; its outcome (``status`` delivered or failed)."""
    run = session.get(PipelineRun, run_id, with_for_update=True)
    if run is None:
        raise NotFound(f"pipeline run {run_id} not found")
    expected = run.tool_token_hash or ""
    if not expected or not hmac.compare_digest(expected, hash_token(token)):
        raise ToolDenied("this token does not start tool jobs of this run")
    if run.phase in FINAL_PHASES:
        raise ToolDenied(f"run {run_id} has ended ({run.phase})")
    tool = _tool_of(session, run, job)
    source = f"tool:{run_id}/{job}"
    done = session.scalar(
        select(Delivery).where(
            Delivery.source == source, Delivery.event_id.is_(None), Delivery.state == "delivered"
        )
    )
    if done is not None:  # a retry of a job whose message went out: the same answer
        last = session.scalar(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == done.id)
            .order_by(DeliveryAttempt.attempt.desc())
            .limit(1)
        )
        session.rollback()
        return _answer(done, last)
    delivery = Delivery(
        event_id=None,
        source=source,
        channel=tool.channel.model_dump(mode="json", by_alias=True, exclude_none=True),
        destination=destination_of(tool.channel),
        state="pending",
        attempts=0,
    )
    session.add(delivery)
    session.flush()
    try:
        outcome = send_tool(
            tool,
            run_id=run_id,
            job=job,
            pipeline=run.pipeline_name,
            message=message,
            secrets=secrets,
            timeout=timeout,
            pacing=pacing,
        )
    except NotSent as exc:
        delivery.state, delivery.last_error = "failed", str(exc)
        session.commit()
        return _answer(delivery, None)
    record_attempt(session, delivery, outcome, next_delay=None)
    session.commit()
    last = session.scalar(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery.id)
        .order_by(DeliveryAttempt.attempt.desc())
        .limit(1)
    )
    return _answer(delivery, last)
