"""Run a pipeline to completion on the embedded local runner, in this process.

Executions take the service's path instead (``api.runs.control.start_run``), which records them in
Postgres; pipelines run here directly and report through their Workflow's status.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from engine.backends.local import LocalBackend
from engine.pipelines import Pipeline, PipelineCompileOptions, compile_pipeline

__all__ = ["run_pipeline_locally"]


def run_pipeline_locally(
    pipeline: Pipeline,
    backend: LocalBackend,
    *,
    parameters: dict[str, str] | None = None,
    run_id: str | None = None,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Compile a pipeline for one run and execute it here; returns the final Workflow object."""
    options = PipelineCompileOptions(
        run_id=run_id or uuid.uuid4().hex[:12], schedule=False, parameters=dict(parameters or {})
    )
    return backend.run(compile_pipeline(pipeline, options).workflow_dict(), on_update=on_update)
