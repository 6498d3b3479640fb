"""Load the spec a command was given, turning every engine error into a clean exit."""

from __future__ import annotations

from pathlib import Path

from engine.cli.console import abort
from engine.errors import DroverError
from engine.loading import load_execution, read_document
from engine.pipelines import Pipeline, is_pipeline_document, parse_pipeline
from engine.spec import Execution

__all__ = ["load_any_or_exit", "load_or_exit"]


def load_or_exit(path: Path) -> Execution:
    try:
        return load_execution(path)
    except DroverError as error:
        abort(error)


def load_any_or_exit(path: Path) -> Execution | Pipeline:
    """An Execution, or a Pipeline when the document says ``kind: Pipeline``."""
    try:
        if is_pipeline_document(read_document(path)):
            return parse_pipeline(read_document(path))
        return load_execution(path)
    except DroverError as error:
        abort(error)
