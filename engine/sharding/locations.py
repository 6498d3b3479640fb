"""Read the file and directory out of a scenario's location."""

from __future__ import annotations

import functools
import posixpath
import re

__all__ = ["directory_of", "file_of"]

# "features/a.feature:12" or "a.feature:12:5": trailing line (and column) numbers.
_LINE_SUFFIX = re.compile(r"(?::\d+)+$")


def file_of(location: str) -> str:
    """The file part: ``tests/a/test_x.py::TestC::test_y`` → ``tests/a/test_x.py``,
    ``features/a.feature:12`` → ``features/a.feature``."""
    return _normal_file(location.split("::", 1)[0])


@functools.lru_cache(maxsize=65_536)
def _normal_file(path: str) -> str:
    # Cached: the scenarios of one file share this part, and planning reads it for each.
    path = _LINE_SUFFIX.sub("", path).replace("\\", "/")
    return posixpath.normpath(path) if path else ""


def directory_of(location: str) -> str:
    """The directory holding the scenario's file; ``""`` for top-level files or no location."""
    directory = posixpath.dirname(file_of(location))
    return "" if directory == "." else directory
