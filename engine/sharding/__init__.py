"""Sharding: spread a scenario group's scenarios over its workers.

Pure and deterministic, no I/O. :func:`plan_shards` takes scenarios (anything
:class:`Placeable`: a :class:`ShardItem`, the spec's scenarios) and a :class:`Strategy`, and
returns a :class:`ShardPlan` with exactly ``threads`` shards, each scenario in exactly one,
plus the predicted makespan and its lower bound ``max(total / threads, longest)``.
"""

from __future__ import annotations

from engine.sharding.model import Placeable, Shard, ShardItem, ShardPlan, Strategy
from engine.sharding.planner import plan_shards

__all__ = ["Placeable", "Shard", "ShardItem", "ShardPlan", "Strategy", "plan_shards"]

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
