"""The one place the CLI writes to the terminal: rich consoles and the error exit."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from engine.errors import DroverError, SpecError

__all__ = ["abort", "console", "err_console", "exit_code_for"]

console = Console()
err_console = Console(stderr=True)


def exit_code_for(error: DroverError) -> int:
    """2 for invalid input, 1 for everything else that went wrong."""
    return 2 if isinstance(error, SpecError) else 1


def abort(error: DroverError | str, code: int | None = None) -> NoReturn:
    """Print an error without a traceback and exit with its code."""
    text = str(error)
    err_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
    if isinstance(error, DroverError) and code is None:
        code = exit_code_for(error)
    raise typer.Exit(code if code is not None else 1)
