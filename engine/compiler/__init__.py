"""Compile executions into Argo documents (Hera objects), and the reusable WorkflowTemplates.

The names below are imported on first use (PEP 562), so that importing a light submodule
does not load Hera.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.compiler.workflow import CompiledExecution, CompileOptions, compile_plan

__all__ = ["CompileOptions", "CompiledExecution", "compile_plan"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("engine.compiler.workflow"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
