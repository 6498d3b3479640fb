"""Execution documents as the API accepts them: the engine's validation plus what only a
server must refuse (a path relative to the server's own working directory)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from engine.errors import SpecError
from engine.loading import parse_execution
from engine.spec import Execution

__all__ = ["parse_api_execution"]


def parse_api_execution(document: dict[str, Any]) -> Execution:
    """``parse_execution``, refusing a relative ``project.path``: the CLI resolves one against
    the spec file's folder, but a server has no such folder (its own working directory would be
    copied: its venv, its database)."""
    execution = parse_execution(document)
    path = execution.project.path
    if path is not None and not PurePosixPath(path).is_absolute():
        raise SpecError(
            "project.path",
            f"{path!r} is relative; the service cannot know what it is relative to",
            "give the test project's absolute path on the server, or use project.repo",
        )
    return execution
