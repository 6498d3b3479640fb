"""``drover run SPEC``: run an execution on this machine with live progress, then summarise.

Executions start through the service's own ``start_run`` (the path "Run now" takes in the API),
so the run is recorded in Postgres — the embedded server under ``$DROVER_HOME`` unless
``DATABASE_URL`` names another — and mirrored scenario by scenario while it runs.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.console import abort, console, err_console, waiting
from engine.cli.interrupts import RunInterrupts
from engine.cli.lifetime import long_lived_objects
from engine.cli.local_service_protocol import service_enabled
from engine.cli.options import HomeOption, RuntimeOption, check_runtime, name_value_pairs
from engine.cli.run_view import OUTCOMES, ProgressView, summarise, verdict
from engine.errors import BackendError, DroverError
from engine.gc_pause import paused_collection
from engine.sharding import Strategy

if TYPE_CHECKING:
    from engine.backends.local import LocalBackend
    from engine.pipelines import Pipeline
    from engine.spec import Execution

__all__ = ["run_command"]

SUMMED = frozenset({"passed", "skipped"})
"""Outcomes of a run that is ok; the summary only counts them, and lists any other."""
DETAIL_SECONDS = 2.0
"""How often ``drover run`` reads the run's detail while the workflow does not change."""


def run_command(
    spec: Annotated[Path, typer.Argument(help="Execution or pipeline spec, YAML or JSON.")],
    results: Annotated[
        Path | None,
        typer.Option("--results", help="Write counters and per-scenario results here (JSON)."),
    ] = None,
    strategy: Annotated[
        Strategy | None, typer.Option("--strategy", "-s", help="Override every group's strategy.")
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", help="Write the run's JUnit XML here (a suite per group, reruns kept)."
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Copy the run's reports into this directory (junit.xml, and Playwright's "
            "and cucumber's HTML reports when the runner has them).",
        ),
    ] = None,
    runtime: RuntimeOption = None,
    home: HomeOption = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", metavar="NAME=VALUE", help="Pipeline parameter (repeatable)."
        ),
    ] = None,
) -> None:
    """Compile the execution (or pipeline) and run it on the embedded local runner.

    Exits 0 only when every scenario passed or was skipped (for a pipeline: when it succeeded).
    """
    if home is not None:
        os.environ["DROVER_HOME"] = str(home)
    if runtime is not None:
        os.environ["DROVER_LOCAL_RUNTIME"] = runtime.value
    check_runtime()
    targets = ReportTargets(results, junit, report)
    ran = None
    if service_enabled():
        try:
            ran = _run_in_service(spec, strategy, targets)
        except KeyboardInterrupt:
            abort("interrupted before the run started", code=130)
    if ran is None:  # no local service, or a pipeline: in this process
        # The spec's models: not needed when the service takes the run (it reads the spec).
        from engine.cli.spec_file import load_any_or_exit
        from engine.pipelines import Pipeline

        loaded = load_any_or_exit(spec)
        if isinstance(loaded, Pipeline):
            # The local runner pulls in Hera and the Kubernetes client: imported only here.
            from engine.backends.local import LocalBackend, default_home

            chosen = runtime.value if runtime else None
            _run_pipeline(loaded, LocalBackend(default_home(), runtime=chosen), param or [])
            return
        try:
            ran = _run_execution(loaded, spec.parent, strategy, targets)
        except DroverError as error:
            abort(error)
        except KeyboardInterrupt:
            abort("interrupted before the run started", code=130)
    outcome, setup_log, interrupted = ran
    summarise(outcome, console, setup_log)
    if results is not None:
        console.print(f"results written to {results}")
    for line in outcome["report_lines"]:
        console.print(line)
    raise typer.Exit(interrupted or (0 if outcome["ok"] else 1))


def results_document(outcome: dict[str, Any]) -> str:
    """``--results``' JSON: the summary indented, then one line per scenario. Lines are written
    by json's C encoder; an indented dump goes through its Python one (0.4 s at 62,000)."""
    mark = f"results-{uuid.uuid4().hex}"
    head = json.dumps({**outcome, "results": mark}, indent=2, default=str)
    encode = json.JSONEncoder(default=str).encode
    rows = ",\n    ".join(map(encode, outcome.get("results") or []))
    listed = f"[\n    {rows}\n  ]" if rows else "[]"
    return head.replace(f'"{mark}"', listed, 1) + "\n"


@dataclass(frozen=True)
class ReportTargets:
    """Where ``--results``, ``--junit`` and ``--report`` write (None: not asked for)."""

    results: Path | None = None
    junit: Path | None = None
    report: Path | None = None


def _run_in_service(
    spec: Path, strategy: Strategy | None, targets: ReportTargets
) -> tuple[dict[str, Any], list[str], int | None] | None:
    """The run in the local service (``engine.cli.local_service``), which parses and validates
    the spec; None when no service takes it, or the spec is a pipeline's or unreadable."""
    from engine.cli.local_service_client import run_in_service
    from engine.home import default_home

    def absolute(path: Path | None) -> str | None:
        return str(path.absolute()) if path is not None else None

    try:
        text = spec.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # this process says why, as it always has
    request = {
        # The spec as named here (its errors name it so), read here; its folder for its paths.
        "spec": str(spec),
        "text": text,
        "base_dir": absolute(spec.parent),
        "strategy": str(strategy) if strategy else None,
        **{name: absolute(path) for name, path in vars(targets).items()},
    }
    return run_in_service(request, default_home(), ProgressView(console))


def _run_execution(
    execution: Execution,
    base_dir: Path,
    strategy: Strategy | None,
    targets: ReportTargets,
) -> tuple[dict[str, Any], list[str], int | None]:
    """Start the run as the API does, follow it to the end, and read its outcome from Postgres.

    Returns the outcome, the end of setup-env's log when it failed, and the exit code an
    interrupt asks for (Ctrl-C stops the run, twice terminates it; see ``RunInterrupts``).
    """
    # The service is an edge of the CLI like any backend: imported only when a run starts.
    from api.embedded_server import embedded_server_scope
    from api.settings import Settings

    settings = Settings()
    view = ProgressView(console)
    run_ids: list[str] = []

    def control(action: str) -> None:
        control_run_by_id(service, run_ids[0], action)

    # Installed before anything starts: a Ctrl-C at any point ends what was started, never
    # orphaning a run, and never interrupts the database work below halfway.
    with (
        RunInterrupts(control, view.say) as interrupts,
        # The run is recorded: a server left running is harmless, so only say so.
        # Postgres starts while the service is imported (Hera, SQLAlchemy's ORM: ~0.7 s).
        embedded_server_scope(
            settings,
            warn=lambda text: err_console.print(f"warning: {text}"),
            start_now=True,
            wait_for_stop=False,
        ),
    ):
        with long_lived_objects():
            from api.service import build_service

        service = build_service(settings, upgrading=waiting)
        if interrupts.interrupts:
            abort("interrupted before the run started", code=interrupts.exit_code)
        outcome, setup_log = execute_run(
            service, execution, base_dir, strategy, targets, view, interrupts, run_ids
        )
    return outcome, setup_log, interrupts.exit_code


def control_run_by_id(service: Any, run_id: str, action: str) -> None:
    """``stop`` or ``terminate`` the run, as the API's control route does."""
    from api.models import Run
    from api.runs.control import control_run

    with service.sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None
        control_run(session, run, action, service.backend(), None)


def execute_run(
    service: Any,
    execution: Execution,
    base_dir: Path,
    strategy: Strategy | None,
    targets: ReportTargets,
    view: Any,
    interrupts: RunInterrupts,
    run_ids: list[str],
) -> tuple[dict[str, Any], list[str]]:
    """The run itself, in this process or in the local service (``engine.cli.local_service``):
    start it, show its progress on ``view`` until it has ended, then its outcome and reports.

    ``run_ids`` receives the run's id as soon as it exists (``interrupts`` controls it by it).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from api.mirror.executions import describe
    from api.runs.control import start_run

    with view:
        with service.sessions() as session:
            started = start_run(
                session,
                backend=service.backend(),
                spec=execution,
                strategy=str(strategy) if strategy else None,
                base_dir=base_dir,
            )
            run_ids.append(started.run.id)
            workflow = started.run.workflow_name
        try:
            outcome = _follow(service, run_ids[0], view, interrupts)
        except SQLAlchemyError as error:
            raise BackendError(
                f"the run's database stopped answering ({describe(error)}); workflow "
                f"{workflow} goes on without it: `drover get {workflow}` and `drover logs "
                f"{workflow}` follow it, `drover stop {workflow}` ends it"
            ) from error
    if targets.results is not None:
        try:
            targets.results.parent.mkdir(parents=True, exist_ok=True)
            targets.results.write_text(results_document(outcome), encoding="utf-8")
        except OSError as error:
            raise DroverError(
                f"--results: cannot write {targets.results} ({error.strerror}); the run "
                f"{run_ids[0]} is recorded: `drover get {outcome['workflow']}` shows it"
            ) from error
    outcome["report_lines"] = _write_reports(service, run_ids[0], targets)
    setup_log = _setup_log(service.backend(), outcome) if outcome["setup_error"] else []
    # What the summary shows: every scenario is in the results file, the others are counted.
    outcome["scenarios"] = len(outcome["results"])
    outcome["results"] = [r for r in outcome["results"] if r["status"] not in SUMMED]
    return outcome, setup_log


def _follow(service: Any, run_id: str, view: Any, interrupts: RunInterrupts) -> dict[str, Any]:
    """Show the run's progress until it is final and ingested, acting on interrupts as they
    come; then its outcome from Postgres."""
    from api.models import Run
    from api.runs.views import run_detail, scenario_outcomes
    from engine.backends.local import default_home

    def read(view_of: Any) -> Any:
        with service.sessions() as session:
            run = session.get(Run, run_id)
            assert run is not None
            return view_of(session, run)

    def detail() -> Any:
        return read(run_detail)

    shown: list[Any] = [None, 0.0]  # the state last shown, and when

    def on_state(state: Any) -> None:
        interrupts.apply()
        # The detail reads every result of the run: at 60,000 scenarios that is CPU the
        # workers need. Shown when the workflow changed, else every few seconds.
        now = time.monotonic()
        if state != shown[0] or now - shown[1] >= DETAIL_SECONDS:
            shown[:] = [state, now]
            view.update(detail())

    interrupts.apply()  # a Ctrl-C while it was starting
    service.mirror.follow(run_id, on_state)
    with paused_collection():  # every scenario's outcome
        final = detail()
        outcomes = read(scenario_outcomes)
    counts = Counter(o["status"] for o in outcomes)
    ok = all(o["status"] in SUMMED for o in outcomes)
    outcome = {
        "run_id": run_id,
        "workflow": final.workflow_name,
        "phase": final.phase,
        "ok": ok,
        "verdict": verdict(counts, ok, interrupts.ended),
        "setup_error": final.setup_error,
        "counts": {s: counts.get(s, 0) for s in OUTCOMES},
        "groups": {g.key: g.progress.model_dump() for g in final.groups},
        "results": outcomes,
        "logs": str(default_home() / "local" / "workflows" / str(final.workflow_name) / "logs"),
    }
    view.finish(final, outcome["verdict"])
    return outcome


def _write_reports(service: Any, run_id: str, targets: ReportTargets) -> list[str]:
    """``--junit`` and ``--report``: the same service functions the API's report routes call."""
    from api.runs.reports import copy_run_reports, write_run_junit

    said = []
    if targets.junit is not None:
        targets.junit.parent.mkdir(parents=True, exist_ok=True)
        with service.sessions() as session, targets.junit.open("w", encoding="utf-8") as out:
            counts = write_run_junit(session, run_id, out)
        said.append(f"JUnit XML ({counts.tests} scenarios) written to {targets.junit}")
    if targets.report is not None:
        copied = copy_run_reports(service.reports, run_id, targets.report)
        # The JUnit XML from the stored results: the same as report.xml, reports stored or not.
        junit = targets.report / "junit.xml"
        with service.sessions() as session, junit.open("w", encoding="utf-8") as out:
            write_run_junit(session, run_id, out)
        copied = [*dict.fromkeys([*copied, "junit.xml"])]
        said.append(f"reports written to {targets.report}: {', '.join(sorted(copied))}")
    return said


def _setup_log(backend: Any, outcome: dict[str, Any], lines: int = 5) -> list[str]:
    """The last lines setup-env's last pod printed: often the reason its message only hints at."""
    from api.runs.views import SETUP_STEP

    try:
        logged = list(backend.logs(outcome["workflow"], node=SETUP_STEP))
    except DroverError:
        return []
    last_pod = logged[-1].pod if logged else None
    return [line.content for line in logged if line.pod == last_pod][-lines:]


@contextmanager
def _local_tools(pipeline: Pipeline, run_id: str) -> Iterator[Pipeline]:
    """The pipeline to run: its tool jobs (if any) as requests to an endpoint in this process
    that sends them with the facade's code (``api.notifications.local_tools``), while it runs."""
    from engine.pipelines.tools import has_tool_jobs

    if not has_tool_jobs(pipeline):
        yield pipeline
        return
    from api.notifications.local_tools import LocalToolEndpoint
    from api.notifications.pacing import DestinationPacing
    from api.notifications.secrets import SecretResolver
    from api.settings import get_settings

    settings = get_settings()
    with LocalToolEndpoint(
        pipeline,
        run_id=run_id,
        secrets=SecretResolver(settings.secrets_dir, holder="the drover command"),
        timeout=settings.notify_timeout,
        pacing=DestinationPacing.from_settings(settings),
    ) as tools:
        yield tools.lower(pipeline)


def _run_pipeline(pipeline: Pipeline, backend: LocalBackend, pairs: list[str]) -> None:
    from engine.local_run import run_pipeline_locally

    parameters = name_value_pairs(pairs, "--param")
    run_id = uuid.uuid4().hex[:12]
    view = ProgressView(
        console,
        lambda wf, _verdict: _jobs_table(pipeline, wf),
        lambda wf: _job_changes(pipeline, wf),
    )
    names: list[str] = []  # the workflow's, once the runner made it

    def on_update(workflow: dict[str, Any]) -> None:
        names[:] = [workflow["metadata"]["name"]]
        interrupts.apply()  # a Ctrl-C before the workflow existed
        view.update(workflow)

    # This thread runs the workflow: Ctrl-C leaves a stop (then terminate) request its loop reads.
    interrupts = RunInterrupts(
        lambda action: getattr(backend, action)(names[0]),
        view.say,
        immediate=True,
        ready=lambda: bool(names),
    )
    try:
        with interrupts, view, _local_tools(pipeline, run_id) as runnable:
            workflow = run_pipeline_locally(
                runnable, backend, parameters=parameters, run_id=run_id, on_update=on_update
            )
            view.finish(workflow, None)
    except DroverError as error:
        abort(error)
    phase = workflow["status"].get("phase")
    name = workflow["metadata"]["name"]
    colour = "green" if phase == "Succeeded" else "red"
    ended = f" ({interrupts.ended.lower()} on request)" if interrupts.ended else ""
    console.print(
        f"[{colour}]{name}: {phase}{ended}[/] {escape(workflow['status'].get('message') or '')}"
    )
    console.print(f"inspect: drover get {name} · drover logs {name}")
    raise typer.Exit(interrupts.exit_code or (0 if phase == "Succeeded" else 1))


def _job_nodes(workflow: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Each job's task node in the main DAG, by job name."""
    nodes = ((workflow or {}).get("status") or {}).get("nodes") or {}
    name = workflow["metadata"]["name"] if workflow else ""
    return {
        n["displayName"]: n
        for n in nodes.values()
        if n.get("name", "").count(".") == 1 and n["name"].startswith(f"{name}.")
    }


def _job_changes(pipeline: Pipeline, workflow: dict[str, Any]) -> list[tuple[str, tuple[Any, ...]]]:
    """A plain progress line per job: its phase, and its message once it has one."""
    by_job = _job_nodes(workflow)
    lines: list[tuple[str, tuple[Any, ...]]] = []
    for job in pipeline.all_jobs():
        node = by_job.get(job.name)
        if node is not None:
            message = node.get("message")
            lines.append(
                (
                    job.name,
                    (f"job {job.name}", node.get("phase", "Pending"))
                    + ((f"— {message}",) if message else ()),
                )
            )
    return lines


def _jobs_table(pipeline: Pipeline, workflow: dict[str, Any] | None) -> Table:
    """One row per job: the task node of its name in the main DAG."""
    name = workflow["metadata"]["name"] if workflow else ""
    by_job = _job_nodes(workflow)
    table = Table(title=escape(f"{pipeline.name} — {name or 'starting'}"), title_justify="left")
    for header in ("job", "type", "phase", "message", "outputs"):
        table.add_column(header, overflow="fold")
    for job in pipeline.all_jobs():
        node = by_job.get(job.name, {})
        outputs = node.get("outputs") or {}
        shown = {p["name"]: p.get("value") for p in outputs.get("parameters", [])}
        if "result" in outputs:
            shown["result"] = outputs["result"]
        table.add_row(
            escape(job.name),
            job.kind,
            node.get("phase", "Pending"),
            escape(node.get("message") or ""),
            escape(", ".join(f"{k}={str(v)[:40]}" for k, v in shown.items())),
        )
    return table
