"""The one place the CLI writes to the terminal: rich consoles and the error exit."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from engine.errors import DroverError, SpecError

__all__ = ["PIPED_WIDTH", "abort", "console", "err_console", "exit_code_for", "waiting"]

PIPED_WIDTH = 100_000
"""Columns of output that goes to a pipe, a file or a CI log: wide enough that no name, id
or message is cut or wrapped (a table is only as wide as its content)."""


def _console(*, stderr: bool = False) -> Console:
    # Lines are never broken by rich (soft wrap): a terminal folds them, and a path, an id or a
    # command copies whole whatever COLUMNS says. Tables still fit their columns to the width.
    made = Console(stderr=stderr, soft_wrap=True)
    if not made.is_terminal and not os.environ.get("COLUMNS"):
        made.width = PIPED_WIDTH
    return made


console = _console()
err_console = _console(stderr=True)


def exit_code_for(error: DroverError) -> int:
    """2 for invalid input, 1 for everything else that went wrong."""
    return 2 if isinstance(error, SpecError) else 1


def abort(error: DroverError | str, code: int | None = None) -> NoReturn:
    """Print an error without a traceback and exit with its code."""
    text = str(error)
    err_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False)
    if isinstance(error, DroverError) and code is None:
        code = exit_code_for(error)
    raise typer.Exit(code if code is not None else 1)


def waiting(message: str) -> AbstractContextManager[Any]:
    """A spinner with ``message`` on stderr while something slow happens; where there is no
    terminal to spin in (a pipe, a CI log), the message as a line instead."""
    if not err_console.is_terminal:
        err_console.print(escape(message), highlight=False)
    return err_console.status(escape(message))
