"""Drover's engine: execution specs, sharding, planning and the Argo compiler (pure, no I/O),
plus the backends and CLI at the edges.

The public API::

    from engine import load_execution, plan_execution, compile_plan
    plan = plan_execution(load_execution(Path("examples/shop/execution.yaml")))
    documents = compile_plan(plan).documents()

The names are imported on first use (PEP 562), so ``import engine.spec`` or the CLI's
``validate`` does not pay for Hera and the compiler.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY = {
    "BackendError": "engine.errors",
    "CompileError": "engine.errors",
    "CompileOptions": "engine.compiler",
    "CompiledExecution": "engine.compiler",
    "Conflict": "engine.errors",
    "DiscoveryError": "engine.errors",
    "DroverError": "engine.errors",
    "Execution": "engine.spec",
    "ExecutionPlan": "engine.planning",
    "GroupPlan": "engine.planning",
    "NotFound": "engine.errors",
    "ShardItem": "engine.sharding",
    "ShardPlan": "engine.sharding",
    "SpecError": "engine.errors",
    "Strategy": "engine.sharding",
    "Unsupported": "engine.errors",
    "compile_plan": "engine.compiler",
    "load_execution": "engine.loading",
    "parse_execution": "engine.loading",
    "plan_execution": "engine.planning",
    "plan_shards": "engine.sharding",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
