"""Compile executions into Argo documents (Hera objects), and the reusable WorkflowTemplates."""

from __future__ import annotations

from engine.compiler.workflow import CompiledExecution, CompileOptions, compile_plan

__all__ = ["CompileOptions", "CompiledExecution", "compile_plan"]
