"""General pipelines: stages of script, container and HTTP jobs, compiled to Argo DAGs.

>>> pipeline = load_pipeline(Path("examples/pipelines/stages.yaml"))   # doctest: +SKIP
>>> compile_pipeline(pipeline).workflow_dict()["kind"]                  # doctest: +SKIP
'Workflow'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engine.pipelines.loading import is_pipeline_document, load_pipeline, parse_pipeline
from engine.pipelines.model import Job, Pipeline

if TYPE_CHECKING:
    from engine.pipelines.compiler import (
        LABEL_PIPELINE,
        CompiledPipeline,
        PipelineCompileOptions,
        compile_pipeline,
    )

# The compiler pulls in Hera; it loads on first use (PEP 562), so loading and validating a
# pipeline stays cheap.
_COMPILER_NAMES = frozenset(
    {"LABEL_PIPELINE", "CompiledPipeline", "PipelineCompileOptions", "compile_pipeline"}
)

__all__ = [
    "LABEL_PIPELINE",
    "CompiledPipeline",
    "Job",
    "Pipeline",
    "PipelineCompileOptions",
    "compile_pipeline",
    "is_pipeline_document",
    "load_pipeline",
    "parse_pipeline",
]


def __getattr__(name: str) -> Any:
    if name not in _COMPILER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("engine.pipelines.compiler"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _COMPILER_NAMES)
