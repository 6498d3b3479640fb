"""Tag: scenarios sharing their first tag run on one worker, split only when that costs makespan.

Scenarios without tags form one group of their own. A tag group splits into its files, then
into single scenarios; see :mod:`.grouping` for the rule.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from engine.sharding.grouping import place_groups
from engine.sharding.loads import Assignment
from engine.sharding.locations import file_of
from engine.sharding.model import Placeable

__all__ = ["place_by_tag"]


def _first_tag(item: Placeable) -> Hashable:
    # A tuple key keeps untagged scenarios apart from any real tag name.
    return (item.tags[0],) if item.tags else ()


def _file(item: Placeable) -> str:
    return file_of(item.location)


def place_by_tag(
    items: Sequence[Placeable], durations: Sequence[float], threads: int
) -> Assignment:
    """First-tag groups placed LPT by their totals; big groups split by file, then scenario."""
    return place_groups(items, durations, threads, levels=(_first_tag, _file))
