"""``drover run SPEC``: run an execution on this machine with live progress, then summarise.

Executions start through the service's own ``start_run`` (the path "Run now" takes in the API),
so the run is recorded in Postgres — the embedded server under ``$DROVER_HOME`` unless
``DATABASE_URL`` names another — and mirrored scenario by scenario while it runs.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from engine.cli.console import abort, console, err_console
from engine.cli.options import HomeOption, RuntimeOption, check_runtime
from engine.cli.spec_file import load_any_or_exit
from engine.errors import DroverError, SpecError
from engine.pipelines import Pipeline
from engine.sharding import Strategy
from engine.spec import Execution

if TYPE_CHECKING:
    from engine.backends.local import LocalBackend

__all__ = ["run_command"]

OUTCOMES = ("passed", "failed", "skipped", "error", "not_run")


def run_command(
    spec: Annotated[Path, typer.Argument(help="Execution or pipeline spec, YAML or JSON.")],
    results: Annotated[
        Path | None,
        typer.Option("--results", help="Write counters and per-scenario results here (JSON)."),
    ] = None,
    strategy: Annotated[
        Strategy | None, typer.Option("--strategy", "-s", help="Override every group's strategy.")
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
    # The local runner pulls in Hera and the Kubernetes client: imported only when a run starts.
    from engine.backends.local import LocalBackend, default_home

    if home is not None:
        os.environ["DROVER_HOME"] = str(home)
    if runtime is not None:
        os.environ["DROVER_LOCAL_RUNTIME"] = runtime.value
    check_runtime()
    loaded = load_any_or_exit(spec)
    if isinstance(loaded, Pipeline):
        chosen = runtime.value if runtime else None
        _run_pipeline(loaded, LocalBackend(default_home(), runtime=chosen), param or [])
        return
    try:
        outcome = _run_execution(loaded, spec.parent, strategy)
    except DroverError as error:
        abort(error)
    _summarise(outcome)
    if results is not None:
        results.write_text(json.dumps(outcome, indent=2, default=str) + "\n", encoding="utf-8")
        console.print(f"results written to {results}")
    raise typer.Exit(0 if outcome["ok"] else 1)


def _run_execution(
    execution: Execution, base_dir: Path, strategy: Strategy | None
) -> dict[str, Any]:
    """Start the run as the API does, follow it to the end, and read its outcome from Postgres."""
    # The service is an edge of the CLI like any backend: imported only when a run starts.
    from api.app import build_service
    from api.database import stop_embedded
    from api.models import Run
    from api.run_views import run_detail, scenario_outcomes
    from api.runs import start_run
    from api.settings import Settings
    from engine.backends.local import default_home

    settings = Settings()
    started_postgres = (
        not settings.database_url and not (settings.postgres_dir / "postmaster.pid").exists()
    )
    service = build_service(settings)
    try:
        with service.sessions() as session:
            started = start_run(
                session,
                backend=service.backend(),
                spec=execution,
                strategy=str(strategy) if strategy else None,
                base_dir=base_dir,
            )
            run_id = started.run.id

        def detail() -> Any:
            with service.sessions() as session:
                run = session.get(Run, run_id)
                assert run is not None
                return run_detail(session, run)

        with Live(_progress_table(detail()), console=console, refresh_per_second=4) as live:
            service.mirror.follow(run_id, lambda _state: live.update(_progress_table(detail())))
            final = detail()
            live.update(_progress_table(final))
        with service.sessions() as session:
            run = session.get(Run, run_id)
            assert run is not None
            outcomes = scenario_outcomes(session, run)
    finally:
        if started_postgres:
            try:
                stop_embedded(settings.postgres_dir)
            except Exception as exc:  # the run is recorded; a server left running is harmless
                err_console.print(f"warning: could not stop the embedded Postgres: {exc}")
    counts = Counter(o["status"] for o in outcomes)
    return {
        "run_id": run_id,
        "workflow": final.workflow_name,
        "phase": final.phase,
        "ok": all(o["status"] in ("passed", "skipped") for o in outcomes),
        "counts": {
            s: counts.get(s, 0) for s in ("passed", "failed", "skipped", "error", "not_run")
        },
        "groups": {g.key: g.progress.model_dump() for g in final.groups},
        "results": outcomes,
        "logs": str(default_home() / "local" / "workflows" / str(final.workflow_name) / "logs"),
    }


def _progress_table(detail: Any) -> Table:
    title = f"{detail.execution_name} — {detail.workflow_name} — {detail.phase}"
    table = Table(title=escape(title), title_justify="left")
    table.add_column(
        "group", no_wrap=True, min_width=max((len(g.key) for g in detail.groups), default=5)
    )
    table.add_column("state", no_wrap=True)
    for header in ("workers", "passed", "failed", "skipped", "running", "pending"):
        table.add_column(header, justify="right", no_wrap=True)
    for group in detail.groups:
        p = group.progress
        table.add_row(
            escape(group.key),
            group.phase,
            str(group.threads),
            f"[green]{p.passed}[/]",
            f"[red]{p.failed}[/]" if p.failed else "0",
            str(p.skipped),
            f"[yellow]{p.running}[/]" if p.running else "0",
            str(p.pending),
        )
    return table


def _summarise(outcome: dict[str, Any]) -> None:
    failing = [o for o in outcome["results"] if o["status"] not in ("passed", "skipped")]
    if failing:
        table = Table(title="scenarios that did not pass", title_justify="left")
        for header in ("group", "scenario", "status", "error"):
            table.add_column(header, overflow="fold")
        for o in failing:
            first_line = (o.get("error") or "").strip().splitlines()[:1]
            table.add_row(
                escape(o["group"]),
                escape(o["id"]),
                o["status"],
                escape(first_line[0] if first_line else ""),
            )
        console.print(table)
    summary = ", ".join(f"{n} {status}" for status, n in outcome["counts"].items() if n)
    colour = "green" if outcome["ok"] else "red"
    console.print(
        f"[{colour}]run {outcome['run_id']} ({outcome['workflow']}): {outcome['phase']}[/] — "
        f"{summary} ({len(outcome['results'])} scenarios)"
    )
    console.print(f"logs: {outcome['logs']}")
    console.print(f"inspect: drover get {outcome['workflow']} · drover logs {outcome['workflow']}")


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            abort(SpecError("--param", f"{pair!r} is not NAME=VALUE"))
        parameters[name] = value
    return parameters


def _run_pipeline(pipeline: Pipeline, backend: LocalBackend, pairs: list[str]) -> None:
    from engine.local_run import run_pipeline_locally

    parameters = _parameters(pairs)
    try:
        with Live(_jobs_table(pipeline, None), console=console, refresh_per_second=4) as live:
            workflow = run_pipeline_locally(
                pipeline,
                backend,
                parameters=parameters,
                on_update=lambda wf: live.update(_jobs_table(pipeline, wf)),
            )
            live.update(_jobs_table(pipeline, workflow))
    except DroverError as error:
        abort(error)
    phase = workflow["status"].get("phase")
    name = workflow["metadata"]["name"]
    colour = "green" if phase == "Succeeded" else "red"
    console.print(f"[{colour}]{name}: {phase}[/] {escape(workflow['status'].get('message') or '')}")
    console.print(f"inspect: drover get {name} · drover logs {name}")
    raise typer.Exit(0 if phase == "Succeeded" else 1)


def _jobs_table(pipeline: Pipeline, workflow: dict[str, Any] | None) -> Table:
    """One row per job: the task node of its name in the main DAG."""
    nodes = ((workflow or {}).get("status") or {}).get("nodes") or {}
    name = workflow["metadata"]["name"] if workflow else ""
    by_job = {
        n["displayName"]: n
        for n in nodes.values()
        if n.get("name", "").count(".") == 1 and n["name"].startswith(f"{name}.")
    }
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
