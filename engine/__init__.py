"""Drover's engine: execution specs, sharding, planning and the Argo compiler (pure, no I/O),
plus the backends and CLI at the edges.

The public API::

    from engine import load_execution, plan_execution, compile_plan
    plan = plan_execution(load_execution(Path("examples/shop/execution.yaml")))
    documents = compile_plan(plan).documents()
"""

from __future__ import annotations

from engine.compiler import CompiledExecution, CompileOptions, compile_plan
from engine.errors import (
    BackendError,
    CompileError,
    Conflict,
    DiscoveryError,
    DroverError,
    NotFound,
    SpecError,
    Unsupported,
)
from engine.loading import load_execution, parse_execution
from engine.planning import ExecutionPlan, GroupPlan, plan_execution
from engine.sharding import ShardItem, ShardPlan, Strategy, plan_shards
from engine.spec import Execution

__all__ = [
    "BackendError",
    "CompileError",
    "CompileOptions",
    "CompiledExecution",
    "Conflict",
    "DiscoveryError",
    "DroverError",
    "Execution",
    "ExecutionPlan",
    "GroupPlan",
    "NotFound",
    "ShardItem",
    "ShardPlan",
    "SpecError",
    "Strategy",
    "Unsupported",
    "compile_plan",
    "load_execution",
    "parse_execution",
    "plan_execution",
    "plan_shards",
]
