"""File: scenarios of one directory run on one worker, split only when that costs makespan.

Directories split into files, files into single scenarios; see :mod:`.grouping` for the rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.sharding.grouping import place_groups
from engine.sharding.loads import Assignment
from engine.sharding.locations import directory_of, file_of
from engine.sharding.model import ShardItem

__all__ = ["place_by_directory"]


def _directory(item: ShardItem) -> str:
    return directory_of(item.location)


def _file(item: ShardItem) -> str:
    return file_of(item.location)


def place_by_directory(
    items: Sequence[ShardItem], durations: Sequence[float], threads: int
) -> Assignment:
    """Directory groups placed LPT by their totals; big groups split by file, then scenario."""
    return place_groups(items, durations, threads, levels=(_directory, _file))
