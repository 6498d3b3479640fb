"""File: scenarios of one directory run on one worker, split only when that costs makespan.

Directories split into files, files into single scenarios; see :mod:`.grouping` for the rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.sharding.grouping import place_groups
from engine.sharding.loads import Assignment
from engine.sharding.locations import directory_of, file_of
from engine.sharding.model import Placeable

__all__ = ["place_by_directory"]


def _directory(item: Placeable) -> str:
    return directory_of(item.location)


def _file(item: Placeable) -> str:
    return file_of(item.location)


def place_by_directory(
    items: Sequence[Placeable], durations: Sequence[float], threads: int
) -> Assignment:
    """Directory groups placed LPT by their totals; big groups split by file, then scenario."""
    return place_groups(items, durations, threads, levels=(_directory, _file))
