"""``drover plan SPEC``: show how every group's scenarios spread over its workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.console import abort, console
from engine.cli.spec_file import load_or_exit
from engine.errors import DroverError
from engine.planning import GroupPlan, plan_execution
from engine.sharding import Strategy

__all__ = ["plan_command"]


def plan_command(
    spec: Annotated[Path, typer.Argument(help="Execution spec, YAML or JSON.")],
    strategy: Annotated[
        Strategy | None,
        typer.Option("--strategy", "-s", help="Override every group's sharding strategy."),
    ] = None,
    default_duration: Annotated[
        float, typer.Option(help="Seconds assumed for scenarios with no known duration.")
    ] = 30.0,
) -> None:
    """Print the shard plan: per group, each worker's scenarios and predicted load."""
    execution = load_or_exit(spec)
    try:
        plan = plan_execution(execution, strategy=strategy, default_duration=default_duration)
    except DroverError as error:
        abort(error)
    for group in plan.groups:
        console.print(_group_table(group))
    console.print(
        f"[bold]{plan.scenario_count}[/] scenarios on [bold]{plan.worker_count}[/] workers; "
        f"predicted run time {_seconds(plan.predicted_makespan)} (flows in parallel, "
        "setup not included)"
    )


def _group_table(group: GroupPlan) -> Table:
    shards = group.shards
    table = Table(
        title=escape(f"{group.key} — {shards.strategy}, {shards.threads} workers"),
        caption=(
            f"makespan {_seconds(shards.makespan)} vs lower bound {_seconds(shards.lower_bound)} "
            f"(imbalance {shards.imbalance:.3f})"
            + (f"; {len(shards.estimated)} durations estimated" if shards.estimated else "")
        ),
        title_justify="left",
    )
    for header in ("worker", "scenarios", "predicted load"):
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    table.add_column("first scenarios", overflow="ellipsis", no_wrap=True, max_width=48)
    for shard in shards.shards:
        table.add_row(
            str(shard.index),
            str(len(shard.item_ids)),
            _seconds(shard.load),
            escape(", ".join(shard.item_ids[:3]) + (" …" if len(shard.item_ids) > 3 else "")),
        )
    return table


def _seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"
