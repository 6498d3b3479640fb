"""Load the spec a command was given, turning every engine error into a clean exit."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.console import abort
from engine.errors import DroverError
from engine.gc_pause import paused_collection
from engine.loading import (
    load_execution,
    read_document,
    read_execution_json,
    resolve_project_path,
)
from engine.spec import Execution

if TYPE_CHECKING:
    from engine.pipelines import Pipeline

__all__ = ["collector_paused", "load_any_or_exit", "load_or_exit"]


def load_or_exit(path: Path) -> Execution:
    try:
        with collector_paused():
            return load_execution(path)
    except DroverError as error:
        abort(error)


def load_any_or_exit(path: Path) -> Execution | Pipeline:
    """An Execution, or a Pipeline when the document says ``kind: Pipeline``."""
    try:
        with collector_paused():
            execution = read_execution_json(path)
            if execution is not None:
                return resolve_project_path(execution, path)
            # Pipelines' models are loaded only for a spec that may be one.
            from engine.pipelines import is_pipeline_document, parse_pipeline

            document = read_document(path)
            if is_pipeline_document(document):
                return parse_pipeline(document)
            return load_execution(path, document)
    except DroverError as error:
        abort(error)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic garbage collection while a spec is parsed and validated.

    Reading a large spec allocates hundreds of thousands of objects that all stay alive, and
    each allocation burst sets off full collections that walk every one of them again: for
    100,000 scenarios that was more than half the time of ``drover validate``. A large loaded
    spec is then frozen (kept out of later collections: planning and compiling it allocate as
    much again), as it lives until the command ends.
    """
    with paused_collection():
        yield
        if gc.get_count()[0] > _FREEZE_ABOVE:
            gc.freeze()


_FREEZE_ABOVE = 100_000
"""Objects a load must leave behind before they are frozen: small specs change nothing."""
