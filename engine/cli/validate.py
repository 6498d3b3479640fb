"""``drover validate SPEC``: check an execution spec and say what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli.console import console

__all__ = ["validate_command"]


def validate_command(
    spec: Annotated[Path, typer.Argument(help="Execution or pipeline spec, YAML or JSON.")],
) -> None:
    """Validate an execution or pipeline spec; exit 2 naming the offending field."""
    from engine.cli.spec_file import load_any_or_exit
    from engine.spec import Execution

    execution = load_any_or_exit(spec)
    if not isinstance(execution, Execution):
        console.print(
            f"[green]valid[/] pipeline [bold]{execution.name}[/]: "
            f"{len(execution.all_jobs())} jobs"
            + (f", scheduled {', '.join(execution.schedule.cron)}" if execution.schedule else "")
        )
        return
    groups = sum(len(f.groups) for f in execution.flows)
    scenarios = sum(len(execution.group_scenarios(g)) for _, g in execution.iter_groups())
    console.print(
        f"[green]valid[/] execution [bold]{execution.name}[/]: {len(execution.flows)} flows, "
        f"{groups} groups, {scenarios} scenarios"
        + (f", scheduled {', '.join(execution.schedule.cron)}" if execution.schedule else "")
    )
