"""``drover run SPEC``: run an execution on this machine with live progress, then summarise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from engine.backends.local import LocalBackend, default_home
from engine.cli.console import abort, console
from engine.cli.spec_file import load_any_or_exit
from engine.errors import DroverError, SpecError
from engine.local_run import LocalRunReport, run_locally, run_pipeline_locally
from engine.pipelines import Pipeline
from engine.planning import ExecutionPlan, plan_execution
from engine.progress import Progress
from engine.sharding import Strategy
from engine.status import RunState

__all__ = ["run_command"]


def run_command(
    spec: Annotated[Path, typer.Argument(help="Execution spec, YAML or JSON.")],
    results: Annotated[
        Path | None,
        typer.Option("--results", help="Write counters and per-scenario results here (JSON)."),
    ] = None,
    strategy: Annotated[
        Strategy | None, typer.Option("--strategy", "-s", help="Override every group's strategy.")
    ] = None,
    runtime: Annotated[
        str | None,
        typer.Option(help="sandbox (bubblewrap) or process; default: sandbox where available."),
    ] = None,
    home: Annotated[
        Path | None, typer.Option(help="State directory (default $DROVER_HOME or ~/.drover).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Pipeline parameter NAME=VALUE (repeatable)."),
    ] = None,
) -> None:
    """Compile the execution (or pipeline) and run it on the embedded local runner.

    Exits 0 only when every scenario passed or was skipped (for a pipeline: when it succeeded).
    """
    execution = load_any_or_exit(spec)
    if isinstance(execution, Pipeline):
        _run_pipeline(execution, LocalBackend(home or default_home(), runtime=runtime), param or [])
        return
    try:
        plan = plan_execution(execution, strategy=strategy)
        backend = LocalBackend(home or default_home(), runtime=runtime)
        with Live(_progress_table(plan, None, {}), console=console, refresh_per_second=4) as live:

            def show(state: RunState, progress: dict[str, Progress]) -> None:
                live.update(_progress_table(plan, state, progress))

            report = run_locally(plan, backend, on_progress=show)
            live.update(_progress_table(plan, report.state, report.progress))
    except DroverError as error:
        abort(error)
    _summarise(report)
    if results is not None:
        results.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"results written to {results}")
    raise typer.Exit(0 if report.ok else 1)


def _progress_table(
    plan: ExecutionPlan, state: RunState | None, progress: dict[str, Progress]
) -> Table:
    phase = state.phase if state else "Pending"
    title = f"{plan.execution.name} — {state.name if state else 'starting'} — {phase}"
    table = Table(title=escape(title), title_justify="left")
    table.add_column("group", overflow="fold")
    table.add_column("state")
    for header in ("workers", "passed", "failed", "skipped", "running", "pending"):
        table.add_column(header, justify="right", no_wrap=True)
    for group in plan.groups:
        p = progress.get(group.key, Progress(total=len(group.scenarios)))
        node = state.groups.get(group.key) if state else None
        table.add_row(
            escape(group.key),
            node.phase if node else "Pending",
            str(group.settings.threads),
            f"[green]{p.passed}[/]",
            f"[red]{p.failed}[/]" if p.failed else "0",
            str(p.skipped),
            f"[yellow]{p.running}[/]" if p.running else "0",
            str(p.pending + p.not_run),
        )
    return table


def _summarise(report: LocalRunReport) -> None:
    counts = report.counts
    failing = [o for o in report.outcomes if o.status not in ("passed", "skipped")]
    if failing:
        table = Table(title="scenarios that did not pass", title_justify="left")
        for header in ("group", "scenario", "status", "error"):
            table.add_column(header, overflow="fold")
        for outcome in failing:
            first_line = (outcome.error or "").strip().splitlines()[:1]
            table.add_row(
                escape(outcome.group),
                escape(outcome.id),
                outcome.status,
                escape(first_line[0] if first_line else ""),
            )
        console.print(table)
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    colour = "green" if report.ok else "red"
    console.print(
        f"[{colour}]{report.state.name}: {report.state.phase}[/] — {summary} "
        f"({len(report.outcomes)} scenarios)"
    )
    console.print(f"logs: {report.logs_dir}")
    console.print(f"inspect: drover get {report.state.name} · drover logs {report.state.name}")


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            abort(SpecError("--param", f"{pair!r} is not NAME=VALUE"))
        parameters[name] = value
    return parameters


def _run_pipeline(pipeline: Pipeline, backend: LocalBackend, pairs: list[str]) -> None:
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
