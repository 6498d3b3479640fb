"""Tool jobs (Slack, Discord, email, webhook) as requests to the facade.

A tool job never carries its channel's secrets into the workflow: it is lowered, before
compiling, to an HTTP job that POSTs the job's message to the facade's tool endpoint of the
run (``/api/v1/pipeline-runs/<run>/tools/<job>``) with the run's tool token (on a cluster read
from the run's Secret, :func:`tool_token_secret`, so the token is not in the Workflow that the Argo
UI and archive show). The facade reads
the job's channel from the stored pipeline, resolves its secrets where they are, sends with
the same code as notifications, and answers with the outcome, which becomes the job's
``result``. On Argo the request is an HTTP template, run by Argo's agent; locally the
embedded runner makes it.
"""

from __future__ import annotations

from typing import Any, Final

from engine.pipelines.model import HttpMethod, HttpStep, Job, Pipeline, SecretValue
from engine.spec import SecretRef

__all__ = [
    "TOOL_AUTHORIZATION_KEY",
    "TOOL_SUCCESS",
    "has_tool_jobs",
    "lower_tool_jobs",
    "tool_path",
    "tool_token_secret",
]

TOOL_SUCCESS: Final = "response.statusCode == 200"
"""The facade answers 200 when the message was delivered, 502 when it was not."""


def tool_path(run_id: str, job: str) -> str:
    return f"/api/v1/pipeline-runs/{run_id}/tools/{job}"


def has_tool_jobs(pipeline: Pipeline) -> bool:
    jobs = [*pipeline.all_jobs(), *([pipeline.on_exit] if pipeline.on_exit else [])]
    return any(job.tool is not None for job in jobs)


TOOL_AUTHORIZATION_KEY: Final = "authorization"
"""The key of a run's tool Secret: the whole ``Authorization`` header value (``Bearer …``),
since an HTTP template's header takes its value from one Secret key as it is."""


def tool_token_secret(run_id: str, token: str, labels: dict[str, str]) -> dict[str, Any]:
    """The Secret that carries a run's tool token to Argo's agent: submitted with the Workflow,
    which then owns it (Kubernetes removes it with the Workflow); the facade stops accepting
    the token once the run has ended (``api.notifications.tools.run_tool``)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"drover-pipeline-{run_id}-tool",
            "labels": {"app.kubernetes.io/managed-by": "drover", **labels},
        },
        "type": "Opaque",
        "stringData": {TOOL_AUTHORIZATION_KEY: f"Bearer {token}"},
    }


Authorization = str | SecretRef
"""The token itself, or the Secret key that holds the whole header value."""


def _lower(job: Job, facade_url: str, run_id: str, token: Authorization) -> Job:
    if job.tool is None:
        return job
    authorization = f"Bearer {token}" if isinstance(token, str) else SecretValue(secret=token)
    http = HttpStep(
        method=HttpMethod.POST,
        url=facade_url.rstrip("/") + tool_path(run_id, job.name),
        headers={"Authorization": authorization, "Content-Type": "text/plain; charset=utf-8"},
        body=job.tool.message,
        success_condition=TOOL_SUCCESS,
    )
    return job.model_copy(update={"tool": None, "http": http})


def lower_tool_jobs(
    pipeline: Pipeline, *, facade_url: str, run_id: str, token: Authorization
) -> Pipeline:
    """``pipeline`` with every tool job replaced by its request to the facade, authorised by
    ``token``: the token itself (the local runner's workflow, never shown) or the key of the
    run's Secret that holds the header (:func:`tool_token_secret`)."""
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
