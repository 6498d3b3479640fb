"""``drover plan SPEC``: show how every group's scenarios spread over its workers.

Durations come from the spec (``duration`` of a scenario, as discovery or a person wrote it),
then from the project's earlier runs when there is a database to read them from. A scenario
with neither is estimated as the median of its group's known ones; a group with no known
duration at all is spread evenly by count and its run time is not predicted: no number is
printed that nothing measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.console import abort, console, err_console
from engine.errors import DroverError
from engine.sharding import Strategy

if TYPE_CHECKING:
    from engine.planning import GroupPlan
    from engine.spec import Execution

__all__ = ["plan_command"]

EVEN_WEIGHT = 1.0
"""The weight of a scenario nothing is known about: the planner then spreads by count. Never
shown as a prediction."""


def plan_command(
    spec: Annotated[Path, typer.Argument(help="Execution spec, YAML or JSON.")],
    strategy: Annotated[
        Strategy | None,
        typer.Option("--strategy", "-s", help="Override every group's sharding strategy."),
    ] = None,
    default_duration: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds to assume for a scenario no spec or earlier run times (default: "
            "predict nothing for a group without any known duration).",
        ),
    ] = None,
    history: Annotated[
        bool,
        typer.Option(
            help="Fill unknown durations from the project's earlier runs (read from the "
            "database, when there is one).",
        ),
    ] = True,
) -> None:
    """Print the shard plan: per group, each worker's scenarios and predicted load."""
    # The spec's models: imported here so other commands start fast.
    from engine.cli.spec_file import load_or_exit
    from engine.planning import plan_execution

    execution = load_or_exit(spec)
    from_spec = _timed(execution)
    if history:
        execution = _with_history(execution)
    known = _timed(execution)
    try:
        plan = plan_execution(
            execution,
            strategy=strategy,
            default_duration=EVEN_WEIGHT if default_duration is None else default_duration,
        )
    except DroverError as error:
        abort(error)
    unknown = {g.key for g in plan.groups if default_duration is None and _nothing_known(g)}
    for group in plan.groups:
        console.print(_group_table(group, predicted=group.key not in unknown))
    unknown_count = plan.scenario_count - known
    assumed = default_duration is not None and unknown_count
    console.print(
        f"durations: {from_spec} from the spec, {known - from_spec} from earlier runs, "
        f"{unknown_count} unknown"
        + (f" (assumed {_seconds(default_duration or 0)})" if assumed else ""),
        highlight=False,
    )
    if unknown:
        prediction = "unknown — no durations yet (run it once, or give --default-duration)"
    else:
        prediction = f"{_seconds(plan.predicted_makespan)} (flows in parallel, setup not included)"
    console.print(
        f"[bold]{plan.scenario_count}[/] scenarios on [bold]{plan.worker_count}[/] workers; "
        f"predicted run time: {prediction}"
    )


def _timed(execution: Execution) -> int:
    """How many of the scenarios the groups run have a duration."""
    return sum(
        1
        for _, group in execution.iter_groups()
        for scenario in execution.group_scenarios(group)
        if scenario.duration is not None
    )


def _nothing_known(group: GroupPlan) -> bool:
    return bool(group.scenarios) and len(group.shards.estimated) == len(group.scenarios)


def _with_history(execution: Execution) -> Execution:
    """Unknown durations filled from the project's earlier runs: read by the local service
    when one runs (it holds the database open), else here if a database exists already (none
    is created for this); the embedded server stops again unless it was running."""
    from api.runs.known_history import fill_known_history
    from engine.cli.local_service_client import known_history_in_service
    from engine.cli.local_service_protocol import service_enabled
    from engine.home import default_home

    if service_enabled():
        known = known_history_in_service(default_home(), execution.project.name)
        if known is not None:
            return fill_known_history(execution, known)
    from api.settings import Settings

    settings = Settings()
    if not settings.database_url and not (settings.postgres_dir / "PG_VERSION").exists():
        return execution
    from api.embedded_server import embedded_server_scope, libpq_url

    # The server starts in a thread while the reading code is imported, and is left shutting
    # down at the end, as ``drover run`` leaves it: each of the two halves ~0.1 s.
    with embedded_server_scope(settings, start_now=True, wait_for_stop=False):
        # psycopg alone, not SQLAlchemy: this read is all the command needs of the database.
        import psycopg

        from api.runs.known_history import apply_known_history

        try:
            with psycopg.connect(libpq_url(settings)) as connection:
                return apply_known_history(connection.execute, execution)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            err_console.print(f"warning: earlier runs not read: {first}", highlight=False)
            return execution


def _group_table(group: GroupPlan, *, predicted: bool) -> Table:
    shards = group.shards
    if predicted:
        caption = (
            f"makespan {_seconds(shards.makespan)} vs lower bound {_seconds(shards.lower_bound)} "
            f"(imbalance {shards.imbalance:.3f})"
            + (f"; {len(shards.estimated)} durations estimated" if shards.estimated else "")
        )
    else:
        caption = "makespan: unknown — no durations yet (spread evenly by count)"
    table = Table(
        title=escape(f"{group.key} — {shards.strategy}, {shards.threads} workers"),
        caption=caption,
        title_justify="left",
    )
    for header in ("worker", "scenarios", "predicted load"):
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    table.add_column(
        "first scenarios",
        overflow="ellipsis",
        no_wrap=True,
        max_width=48 if console.is_terminal else None,
    )
    for shard in shards.shards:
        table.add_row(
            str(shard.index),
            str(len(shard.item_ids)),
            _seconds(shard.load) if predicted else "unknown",
            escape(", ".join(shard.item_ids[:3]) + (" …" if len(shard.item_ids) > 3 else "")),
        )
    return table


def _seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"
