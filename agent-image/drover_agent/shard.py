"""Run one shard of one scenario group, rerun failed scenarios, and record every result.

The results file is written whatever happens: a runner that crashes, times out or never
mentions a scenario leaves that scenario with status ``error`` and the reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drover_agent.plan import PlanError, load_group_plan, load_run_plan
from drover_agent.results import ScenarioResult, ShardReport, utc_now, write_report
from drover_agent.runners import BatchContext, BatchRun, Outcome, RunnerAdapter, adapter_for

__all__ = ["ShardRequest", "run_shard", "run_with_retries"]

NOT_REPORTED = "the runner did not report this scenario"


@dataclass(frozen=True)
class ShardRequest:
    plan_dir: Path
    workspace: Path
    group: str
    shard: int
    results: Path
    attempt: int = 1
    report_dir: Path | None = None


def run_shard(request: ShardRequest, env: Mapping[str, str]) -> ShardReport:
    report = ShardReport(
        group=request.group,
        shard=request.shard,
        attempt=request.attempt,
        runner="",
        started_at=utc_now(),
    )
    try:
        run_plan = load_run_plan(request.plan_dir)
        group = load_group_plan(request.plan_dir, request.group)
        scenarios = [s.id for s in group.shard(request.shard)]
        report.runner = run_plan.project.runner.kind
        adapter = adapter_for(run_plan.project.runner)
    except (PlanError, ValueError) as exc:
        report.error = str(exc)
        return _finish(report, request.results)
    runner_env = {
        **env,
        "DROVER_EXECUTION": run_plan.execution,
        "DROVER_GROUP": request.group,
        "DROVER_SHARD": str(request.shard),
        "DROVER_ATTEMPT": str(request.attempt),
    }
    with tempfile.TemporaryDirectory(prefix="drover-reports-") as scratch:
        # Absolute: the runner works in the workspace, not in the agent's directory.
        report_dir = (request.report_dir or Path(scratch)).resolve()
        report_dir.mkdir(parents=True, exist_ok=True)
        try:
            run_with_retries(
                adapter,
                scenarios,
                retries=group.retries,
                scenario_timeout=group.scenario_timeout,
                workspace=request.workspace.resolve(),
                report_dir=report_dir,
                env=runner_env,
                report=report,
            )
        except BaseException as exc:
            # Stopped (SIGTERM) or broken: record what is known, then let the exit happen.
            _fill_missing(report, scenarios, f"the agent stopped: {exc!r}")
            _finish(report, request.results)
            raise
    return _finish(report, request.results)


def run_with_retries(
    adapter: RunnerAdapter,
    scenarios: list[str],
    *,
    retries: int,
    scenario_timeout: float | None,
    workspace: Path,
    report_dir: Path,
    env: Mapping[str, str],
    report: ShardReport,
) -> None:
    """Run all scenarios once, then rerun only the failing ones, up to ``retries`` times."""
    pending = list(dict.fromkeys(scenarios))
    final: dict[str, ScenarioResult] = {}
    for attempt in range(1, retries + 2):
        if not pending:
            break
        context = BatchContext(
            workspace=workspace,
            report_dir=report_dir,
            env={**env, "DROVER_SCENARIO_ATTEMPT": str(attempt)},
            attempt=attempt,
            timeout=scenario_timeout * len(pending) if scenario_timeout else None,
        )
        batch = _run_batch(adapter, pending, context)
        for scenario_id in pending:
            outcome = batch.outcomes.get(scenario_id) or Outcome(
                "error", 0.0, batch.problem or NOT_REPORTED
            )
            if scenario_id in final:
                report.retried.append(final[scenario_id])
            final[scenario_id] = ScenarioResult(
                id=scenario_id,
                status=outcome.status,
                duration=round(outcome.duration, 3),
                attempt=attempt,
                error=outcome.error,
                artifacts=list(outcome.artifacts),
            )
        report.results = [final[s] for s in dict.fromkeys(scenarios) if s in final]
        pending = [s for s in pending if final[s].failing]


def _run_batch(adapter: RunnerAdapter, scenario_ids: list[str], context: BatchContext) -> BatchRun:
    try:
        return adapter.run_batch(scenario_ids, context)
    except Exception as exc:  # an adapter bug must not lose the results file
        return BatchRun(problem=f"the {adapter.kind} adapter failed: {exc!r}")


def _fill_missing(report: ShardReport, scenarios: list[str], reason: str) -> None:
    known = {r.id for r in report.results}
    report.results.extend(
        ScenarioResult(id=s, status="error", duration=0.0, attempt=1, error=reason)
        for s in dict.fromkeys(scenarios)
        if s not in known
    )


def _finish(report: ShardReport, path: Path) -> ShardReport:
    report.finished_at = utc_now()
    write_report(report, path)
    return report
