"""Run one shard of one scenario group, rerun failed scenarios, and record every result.

The results file is written whatever happens: a runner that crashes, times out or never
mentions a scenario leaves that scenario with status ``error`` and the reason. With a facade
configured, every result is also posted as soon as it is known (pytest: per test, through the
live plugin; per-scenario commands: per process; other runners: per batch), and a queue-mode
group leases its batches instead of taking the static shard.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from drover_agent.bytecode_cache import bytecode_env
from drover_agent.facade import FacadeClient
from drover_agent.kept import KeptReports
from drover_agent.leasing import WorkSource
from drover_agent.live_feed import LiveFeed, live_runner_env
from drover_agent.plan import GroupPlan, PlanError, load_group_plan, load_run_plan
from drover_agent.reporting import ReportTarget, ResultReporter
from drover_agent.results import ScenarioResult, ShardReport, utc_now, write_report
from drover_agent.runners import BatchContext, BatchRun, Outcome, RunnerAdapter, adapter_for
from drover_agent.runners.base import port_env
from drover_agent.runners.command import CommandAdapter
from drover_agent.stealing import OwnBoard, Stealing, board_namespace

__all__ = ["ShardRequest", "run_shard", "run_with_retries"]

NOT_REPORTED = "the runner did not report this scenario"
FLUSH_SECONDS = 30.0
CLOSE_SECONDS = 10.0
LINGER_SECONDS = 5.0
"""How long a worker done with its own shard waits for a peer's pace to show (a peer that is
still starting up, or in a first long test) before it ends: its pod holds resources meanwhile."""

ResultSink = Callable[[ScenarioResult], None]


ATTEMPTS_PER_POD = 100
"""Room for a pod's scenario reruns (the spec allows at most 10) before the next pod's numbers."""


@dataclass(frozen=True)
class ShardRequest:
    plan_dir: Path
    workspace: Path
    group: str
    shard: int
    results: Path
    attempt: int = 0
    """The pod's retry number (Argo's ``{{retries}}``: 0 for the first pod)."""
    report_dir: Path | None = None
    worker: str | None = None
    """The worker's queue identity (``DROVER_WORKER``), the same for every pod retry of the
    shard: queue leases are held under it. None: ``<group>/<shard>``."""
    pod: str | None = None
    """The pod's name (``DROVER_POD``): the results it reports name it."""
    reports: Path | None = None
    """Keep the runners' native reports and each scenario's artifacts here (see
    :mod:`drover_agent.kept`): a directory, or a ``.tgz`` file written at the end."""
    shared_workspace: bool = False
    """The group's workers share the workspace (not unpacked per pod): they may take each
    other's remaining scenarios (:mod:`drover_agent.stealing`)."""


def run_shard(
    request: ShardRequest, env: Mapping[str, str], facade: FacadeClient | None = None
) -> ShardReport:
    report = ShardReport(
        group=request.group,
        shard=request.shard,
        attempt=request.attempt,
        runner="",
        started_at=utc_now(),
    )
    kept = _kept_reports(request.reports)
    try:
        run_plan = load_run_plan(request.plan_dir)
        group = load_group_plan(request.plan_dir, request.group)
        group.shard(request.shard)  # an unknown index is a plan error in every mode
        report.runner = run_plan.project.runner.kind
        runner = run_plan.project.runner
        live = facade is not None and runner.kind == "pytest"
        adapter = adapter_for(runner, run_plan.project.path)
    except (PlanError, ValueError) as exc:
        report.error = str(exc)
        return _finish(report, request, kept)
    runner_env = {
        **bytecode_env(env, request.workspace),
        "DROVER_EXECUTION": run_plan.execution,
        "DROVER_GROUP": request.group,
        "DROVER_SHARD": str(request.shard),
        "DROVER_ATTEMPT": str(request.attempt),
    }
    worker = request.worker or f"{request.group}/{request.shard}"
    source = WorkSource(group=group, shard=request.shard, client=facade, worker=worker)
    stealing = _stealing(request, group, run_plan.run_id, runner.kind, source.queue_mode, env)
    reporter = (
        ResultReporter(facade, ReportTarget(request.group, request.shard, request.pod))
        if facade is not None
        else None
    )
    taken: list[str] = []
    with tempfile.TemporaryDirectory(prefix="drover-reports-") as scratch:
        # Absolute: the runner works in the workspace, not in the agent's directory.
        report_dir = (request.report_dir or Path(scratch)).resolve()
        report_dir.mkdir(parents=True, exist_ok=True)
        try:
            with _live_feed(live, report_dir, reporter) as feed:
                if feed is not None:
                    runner_env = live_runner_env(runner_env, feed.path)

                def run(batch: list[str], board: OwnBoard | None = None) -> None:
                    taken.extend(batch)
                    if feed is not None:
                        feed.expect(batch)
                    run_with_retries(
                        adapter,
                        batch,
                        retries=group.retries,
                        scenario_timeout=group.scenario_timeout,
                        workspace=request.workspace.resolve(),
                        report_dir=report_dir,
                        env=runner_env,
                        report=report,
                        on_result=reporter.report if reporter else None,
                        live_feed=feed,
                        first_attempt=first_attempt_of(request.attempt),
                        kept=kept,
                        board=board,
                    )

                for batch in source.batches():
                    started = time.monotonic()
                    run(batch, stealing.own_board() if stealing is not None else None)
                    if stealing is not None:
                        _take_from_peers(stealing, report, batch, time.monotonic() - started, run)
                    if reporter is not None and source.queue_mode:
                        # The next lease hands back this worker's unreported scenarios first.
                        reporter.flush(FLUSH_SECONDS)
                        ran = set(batch)
                        source.cost.record(
                            time.monotonic() - started,
                            [r.spent for r in report.results if r.id in ran],
                        )
        except BaseException as exc:
            # Stopped (SIGTERM) or broken: record what is known, then let the exit happen.
            _fill_missing(report, taken, f"the agent stopped: {exc!r}")
            _finish(report, request, kept)
            raise
        finally:
            if reporter is not None:
                reporter.close(CLOSE_SECONDS)
    return _finish(report, request, kept)


def _stealing(
    request: ShardRequest,
    group: GroupPlan,
    run_id: str | None,
    runner: str,
    queue_mode: bool,
    env: Mapping[str, str],
) -> Stealing | None:
    """Work stealing for a pytest shard of a static plan in a shared workspace, else None."""
    if runner != "pytest" or queue_mode or group.threads < 2 or not request.shared_workspace:
        return None
    namespace = board_namespace(env, run_id)
    if namespace is None:
        return None
    try:
        return Stealing.prepare(group, request.shard, request.workspace, namespace)
    except OSError as exc:  # a read-only or odd workspace: run the shard as planned
        print(f"drover-agent: no work stealing: {exc}", flush=True)
        return None


def _take_from_peers(
    stealing: Stealing,
    report: ShardReport,
    own: list[str],
    seconds: float,
    run: Callable[[list[str], OwnBoard | None], None],
) -> None:
    """After this worker's own shard: what an earlier pod of it took and never finished (a
    rerun), then the tails of busy peers' shards while taking one saves time."""
    if stealing.taken:
        run(list(stealing.taken), None)
    mine = set(own)
    overhead = max(seconds - sum(r.spent for r in report.results if r.id in mine), 0.0)
    pace = seconds / len(mine) if mine else 0.0  # all told: its share of start-up included
    while stolen := stealing.take(overhead, LINGER_SECONDS, pace):
        print(f"drover-agent: took {len(stolen)} scenarios from a busier worker", flush=True)
        run(stolen, stealing.offer_taken(stolen))


def _kept_reports(target: Path | None) -> KeptReports | None:
    """Where to keep reports: ``target`` itself, or a directory packed into ``target.tgz``."""
    if target is None:
        return None
    if target.name.endswith((".tgz", ".tar.gz")):
        return KeptReports(Path(tempfile.mkdtemp(prefix="drover-kept-")))
    return KeptReports(target)


@contextlib.contextmanager
def _live_feed(
    enabled: bool, report_dir: Path, reporter: ResultReporter | None
) -> Iterator[LiveFeed | None]:
    if not enabled or reporter is None:
        yield None
        return
    with LiveFeed(report_dir / "live-results.jsonl", reporter.report) as feed:
        yield feed


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
    on_result: ResultSink | None = None,
    live_feed: LiveFeed | None = None,
    first_attempt: int = 1,
    kept: KeptReports | None = None,
    board: OwnBoard | None = None,
) -> None:
    """Run all scenarios once, then rerun only the failing ones, up to ``retries`` times.

    Attempts are numbered from ``first_attempt`` (see :func:`first_attempt_of`), so results of
    a retried pod never reuse the numbers of an earlier pod's results.

    ``report.results`` gains (or, for a rerun, replaces) one entry per scenario; ``on_result``
    hears every attempt's result as soon as its batch (or the live feed) knows it.

    ``board``: peers may take the tail of the first run (see :mod:`drover_agent.stealing`);
    what they took is theirs to run and report, and gets no result here.
    """
    pending = list(dict.fromkeys(scenarios))
    final: dict[str, ScenarioResult] = {}
    # A runner that retries by itself (Playwright) gets the retries: its earlier runs come back
    # as the outcome's ``earlier`` attempts. Drover reruns only what it never reported (the
    # runner crashed or timed out), still within ``retries``.
    own_retries = retries if getattr(adapter, "retries_itself", False) else 0
    attempt = first_attempt
    runs = 0
    while pending and runs <= retries:
        context = BatchContext(
            workspace=workspace,
            report_dir=report_dir,
            env={**env, "DROVER_SCENARIO_ATTEMPT": str(attempt)},
            attempt=attempt,
            timeout=None,
            retries=min(own_retries, retries - runs),
            kept_dir=kept.root if kept is not None else None,
            board=board if runs == 0 else None,
        )
        unreported: set[str] = set()
        used = 1
        for part in _parts(adapter, pending, on_result is not None):
            timed = replace(
                context,
                timeout=scenario_timeout * len(part) if scenario_timeout else None,
                env={**context.env, **port_env(env)},  # a port of its own for each process
            )
            batch = _run_batch(adapter, part, timed)
            if live_feed is not None:
                live_feed.read_new_lines()  # live lines first: they carry the same verdicts
            handed_over = set(batch.handed_over)
            for scenario_id in part:
                if scenario_id in handed_over:
                    continue
                outcome = batch.outcomes.get(scenario_id)
                if outcome is None:
                    unreported.add(scenario_id)
                    outcome = Outcome("error", 0.0, batch.problem or NOT_REPORTED)
                attempts = (*outcome.earlier, outcome)
                used = max(used, len(attempts))
                for number, run in enumerate(attempts, start=attempt):
                    if scenario_id in final:
                        report.retried.append(final[scenario_id])
                    final[scenario_id] = result = _result(scenario_id, number, run, kept)
                    if on_result is not None:
                        on_result(result)
        _merge_results(report, [final[s] for s in dict.fromkeys(scenarios) if s in final])
        if own_retries:
            pending = [s for s in pending if s in unreported]
        else:
            pending = [s for s in pending if s in final and final[s].failing]
        attempt += used
        runs += used


def _result(
    scenario_id: str, attempt: int, outcome: Outcome, kept: KeptReports | None
) -> ScenarioResult:
    """One attempt's result; its artifacts copied beside it when the worker keeps reports."""
    artifacts, artifact_dir = list(outcome.artifacts), None
    if kept is not None and artifacts:
        artifacts = kept.keep_artifacts(scenario_id, attempt, artifacts)
        artifact_dir = kept.artifact_dir(scenario_id, attempt) if artifacts else None
    return ScenarioResult(
        id=scenario_id,
        status=outcome.status,
        duration=round(outcome.duration, 3),
        attempt=attempt,
        error=outcome.error,
        artifacts=artifacts,
        artifact_dir=artifact_dir,
        cost=None if outcome.cost is None else round(outcome.cost, 4),
        properties=outcome.properties,
    )


def _parts(adapter: RunnerAdapter, pending: list[str], live: bool) -> list[list[str]]:
    """One batch; or, for a command run once per scenario anyway, one part per scenario so
    each result is reported when its process ends rather than when the whole batch does."""
    if live and isinstance(adapter, CommandAdapter) and adapter.per_scenario:
        return [[s] for s in pending]
    return [pending]


def _merge_results(report: ShardReport, results: list[ScenarioResult]) -> None:
    """Put ``results`` into the report, replacing the same scenarios' earlier entries in place."""
    position = {r.id: i for i, r in enumerate(report.results)}
    for result in results:
        if result.id in position:
            report.results[position[result.id]] = result
        else:
            position[result.id] = len(report.results)
            report.results.append(result)


def _run_batch(adapter: RunnerAdapter, scenario_ids: list[str], context: BatchContext) -> BatchRun:
    try:
        return adapter.run_batch(scenario_ids, context)
    except Exception as exc:  # an adapter bug must not lose the results file
        return BatchRun(problem=f"the {adapter.kind} adapter failed: {exc!r}")


def first_attempt_of(pod_attempt: int) -> int:
    """Scenario attempts of pod retry n are numbered from n * ATTEMPTS_PER_POD + 1."""
    return max(pod_attempt, 0) * ATTEMPTS_PER_POD + 1


def _fill_missing(report: ShardReport, scenarios: list[str], reason: str) -> None:
    known = {r.id for r in report.results}
    first = first_attempt_of(report.attempt)
    report.results.extend(
        ScenarioResult(id=s, status="error", duration=0.0, attempt=first, error=reason)
        for s in dict.fromkeys(scenarios)
        if s not in known
    )


def _finish(report: ShardReport, request: ShardRequest, kept: KeptReports | None) -> ShardReport:
    report.finished_at = utc_now()
    if kept is None or request.reports is None:
        write_report(report, request.results)
    else:
        write_report(report, request.results, kept.root / "results.json")
        if kept.root != request.reports.resolve():
            kept.pack(request.reports)
            shutil.rmtree(kept.root, ignore_errors=True)
    return report
