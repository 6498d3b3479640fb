"""Helpers for pipeline tests: the examples, running a pipeline locally, reading its nodes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.backends.local import LocalBackend
from engine.pipelines import PipelineCompileOptions, compile_pipeline, parse_pipeline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"


@dataclass
class HttpServer:
    """Routes: /health 200 JSON, /status/<code>, /slow (3 s), /flaky (500 twice, then 200)."""

    url: str
    hits: Counter[str] = field(default_factory=Counter)
    headers: list[dict[str, str]] = field(default_factory=list)


def run_pipeline(
    backend: LocalBackend, document: dict[str, Any], **parameters: str
) -> dict[str, Any]:
    """Compile a pipeline document and run it to completion on the local runner."""
    pipeline = parse_pipeline(document)
    workflow = compile_pipeline(
        pipeline, PipelineCompileOptions(parameters=parameters, schedule=False)
    ).workflow_dict()
    return backend.run(workflow, save_interval=0.5)


def jobs_by_name(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Task nodes by job name (retried jobs: the Retry node, whose children are attempts)."""
    nodes = workflow["status"]["nodes"].values()
    root = workflow["metadata"]["name"]
    return {
        n["displayName"]: n
        for n in nodes
        if n["name"].count(".") == 1 and n["name"].startswith(root + ".") and "(" not in n["name"]
    }


def output(node: dict[str, Any], name: str) -> str | None:
    for parameter in (node.get("outputs") or {}).get("parameters") or []:
        if parameter["name"] == name:
            return str(parameter.get("value"))
    return None
