"""Run a planned execution to completion on the embedded local runner.

Compiles the very Workflow that would go to Argo, applies its plan ConfigMaps to the local
store, runs it in this process and reads every worker's results artifact back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.backends.local import LocalBackend
from engine.compiler import CompileOptions, compile_plan
from engine.pipelines import Pipeline, PipelineCompileOptions, compile_pipeline
from engine.planning import ExecutionPlan
from engine.progress import Progress, run_progress
from engine.results import ScenarioOutcome, collect_results, outcome_counts
from engine.status import RunState, parse_workflow

__all__ = ["LocalRunReport", "new_run_id", "run_locally", "run_pipeline_locally"]

ProgressCallback = Callable[[RunState, dict[str, Progress]], None]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class LocalRunReport:
    run_id: str
    workflow: dict[str, Any]
    state: RunState
    progress: dict[str, Progress]
    outcomes: list[ScenarioOutcome]
    home: Path

    @property
    def counts(self) -> dict[str, int]:
        return outcome_counts(self.outcomes)

    @property
    def ok(self) -> bool:
        """Every scenario passed or was skipped."""
        return all(o.status in ("passed", "skipped") for o in self.outcomes)

    @property
    def logs_dir(self) -> Path:
        return self.home / "local" / "workflows" / self.state.name / "logs"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow": self.state.name,
            "phase": self.state.phase,
            "ok": self.ok,
            "counts": self.counts,
            "groups": {key: p.as_dict() for key, p in self.progress.items()},
            "results": [o.as_dict() for o in self.outcomes],
        }


def run_locally(
    plan: ExecutionPlan,
    backend: LocalBackend,
    *,
    run_id: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> LocalRunReport:
    run_id = run_id or new_run_id()
    compiled = compile_plan(plan, CompileOptions(run_id=run_id, schedule=False))
    for configmap in compiled.configmaps:
        backend.apply(configmap)

    def on_update(workflow: dict[str, Any]) -> None:
        if on_progress is not None:
            state = parse_workflow(workflow)
            on_progress(state, run_progress(plan, state))

    workflow = backend.run(compiled.workflow_dict(), on_update=on_update)
    state = parse_workflow(workflow)
    name = state.name

    def read_results(node_id: str) -> bytes | None:
        path = backend.store.artifact_path(name, node_id, "results")
        return path.read_bytes() if path.is_file() else None

    return LocalRunReport(
        run_id=run_id,
        workflow=workflow,
        state=state,
        progress=run_progress(plan, state),
        outcomes=collect_results(plan, state, read_results),
        home=backend.home,
    )


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
        run_id=run_id or new_run_id(), schedule=False, parameters=dict(parameters or {})
    )
    return backend.run(compile_pipeline(pipeline, options).workflow_dict(), on_update=on_update)
