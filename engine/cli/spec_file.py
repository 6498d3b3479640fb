"""Load the spec a command was given, turning every engine error into a clean exit."""

from __future__ import annotations

from pathlib import Path

from engine.cli.console import abort
from engine.errors import DroverError
from engine.loading import load_execution
from engine.spec import Execution

__all__ = ["load_or_exit"]


def load_or_exit(path: Path) -> Execution:
    try:
        return load_execution(path)
    except DroverError as error:
        abort(error)
