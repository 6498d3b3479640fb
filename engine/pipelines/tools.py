"""Tool jobs (Slack, Discord, email, webhook) as requests to the facade.

A tool job never carries its channel's secrets into the workflow: it is lowered, before
compiling, to an HTTP job that POSTs the job's message to the facade's tool endpoint of the
run (``/api/v1/pipeline-runs/<run>/tools/<job>``) with the run's tool token. The facade reads
the job's channel from the stored pipeline, resolves its secrets where they are, sends with
the same code as notifications, and answers with the outcome, which becomes the job's
``result``. On Argo the request is an HTTP template, run by Argo's agent; locally the
embedded runner makes it.
"""

from __future__ import annotations

from typing import Final

from engine.pipelines.model import HttpMethod, HttpStep, Job, Pipeline

__all__ = ["TOOL_SUCCESS", "has_tool_jobs", "lower_tool_jobs", "tool_path"]

TOOL_SUCCESS: Final = "response.statusCode == 200"
"""The facade answers 200 when the message was delivered, 502 when it was not."""


def tool_path(run_id: str, job: str) -> str:
    return f"/api/v1/pipeline-runs/{run_id}/tools/{job}"


def has_tool_jobs(pipeline: Pipeline) -> bool:
    jobs = [*pipeline.all_jobs(), *([pipeline.on_exit] if pipeline.on_exit else [])]
    return any(job.tool is not None for job in jobs)


def _lower(job: Job, facade_url: str, run_id: str, token: str) -> Job:
    if job.tool is None:
        return job
    http = HttpStep(
        method=HttpMethod.POST,
        url=facade_url.rstrip("/") + tool_path(run_id, job.name),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain; charset=utf-8"},
        body=job.tool.message,
        success_condition=TOOL_SUCCESS,
    )
    return job.model_copy(update={"tool": None, "http": http})


def lower_tool_jobs(pipeline: Pipeline, *, facade_url: str, run_id: str, token: str) -> Pipeline:
    """``pipeline`` with every tool job replaced by its request to the facade."""
    update: dict[str, object] = {}
    if pipeline.jobs is not None:
        update["jobs"] = [_lower(j, facade_url, run_id, token) for j in pipeline.jobs]
    if pipeline.stages is not None:
        update["stages"] = [
            stage.model_copy(
                update={"jobs": [_lower(j, facade_url, run_id, token) for j in stage.jobs]}
            )
            for stage in pipeline.stages
        ]
    if pipeline.on_exit is not None:
        update["on_exit"] = _lower(pipeline.on_exit, facade_url, run_id, token)
    return pipeline.model_copy(update=update)
