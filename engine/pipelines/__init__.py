"""General pipelines: stages of script, container and HTTP jobs, compiled to Argo DAGs.

>>> pipeline = load_pipeline(Path("examples/pipelines/stages.yaml"))   # doctest: +SKIP
>>> compile_pipeline(pipeline).workflow_dict()["kind"]                  # doctest: +SKIP
'Workflow'
"""

from engine.pipelines.compiler import (
    LABEL_PIPELINE,
    CompiledPipeline,
    PipelineCompileOptions,
    compile_pipeline,
)
from engine.pipelines.loading import is_pipeline_document, load_pipeline, parse_pipeline
from engine.pipelines.model import Job, Pipeline

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
