"""The ``drover`` command line: thin glue over engine/ (one module per command group)."""

from __future__ import annotations

from engine.cli.compile import compile_command
from engine.cli.db import db_app
from engine.cli.discover import discover
from engine.cli.doctor import doctor_command
from engine.cli.gc import gc_command
from engine.cli.images import images_app
from engine.cli.lifetime import end_process, leave_without_collecting
from engine.cli.notifications import notifications_app
from engine.cli.options import DroverTyper
from engine.cli.plan import plan_command
from engine.cli.run import run_command
from engine.cli.serve import serve_command
from engine.cli.templates import templates_app
from engine.cli.token import token_app
from engine.cli.ui import ui_command
from engine.cli.validate import validate_command
from engine.cli.workflows import register as register_workflow_verbs

__all__ = ["app", "main"]

app = DroverTyper(
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
app.command("run")(run_command)
register_workflow_verbs(app)
app.command("serve")(serve_command)
app.command("ui")(ui_command)
app.command("gc")(gc_command)
app.command("doctor")(doctor_command)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(templates_app, name="templates")
app.add_typer(images_app, name="images")
app.add_typer(notifications_app, name="notifications")


def main() -> None:
    try:
        app()
    except SystemExit as done:  # how every command ends, errors included
        end_process(done.code)
        raise
    finally:
        leave_without_collecting()
