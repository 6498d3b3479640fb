"""The ``drover`` command line: thin glue over engine/ (one module per command group)."""

from __future__ import annotations

import typer

from engine.cli.compile import compile_command
from engine.cli.discover import discover
from engine.cli.plan import plan_command
from engine.cli.validate import validate_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="drover",
    help="Run large test executions and job pipelines on Argo Workflows, or locally.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("validate")(validate_command)
app.command("plan")(plan_command)
app.command("compile")(compile_command)
app.command("discover")(discover)


def main() -> None:
    app()
