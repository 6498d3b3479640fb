"""How the compiled workflow carries reports: each worker pod stores its kept reports as one
optional key-only artifact under ``drover/<workflow>/workers/``; the exit handler loads that
prefix as a directory (Argo's S3 driver downloads a key that is a "directory" whole:
workflow/artifacts/s3/s3.go ``loadS3Artifact``), merges, and stores the run's reports.
Key-only artifacts take bucket and credentials from the artifact repository
(docs/key-only-artifacts.md)."""

from __future__ import annotations

from typing import Any

from engine.compiler import CompileOptions, compile_plan
from engine.loading import parse_execution
from engine.planning import plan_execution


def _compiled(mode: str) -> dict[str, dict[str, Any]]:
    doc = {
        "name": "demo",
        "project": {"name": "demo", "repo": "https://example.com/demo.git"},
        "workspace": {"mode": mode},
        "flows": [{"name": "f", "groups": [{"name": "g", "threads": 2,
                                            "scenarios": [{"id": "a"}, {"id": "b"}]}]}],
    }  # fmt: skip
    workflow = compile_plan(plan_execution(parse_execution(doc)), CompileOptions()).workflow_dict()
    return {t["name"]: t for t in workflow["spec"]["templates"]}


def test_workers_store_their_reports_and_the_exit_handler_merges_them() -> None:
    templates = _compiled("pvc")
    worker = next(t for name, t in templates.items() if name.startswith("worker"))
    args = worker["container"]["args"]
    assert args[args.index("--reports") + 1] == "/tmp/drover/reports.tgz"
    (reports,) = [a for a in worker["outputs"]["artifacts"] if a["name"] == "reports"]
    assert reports == {
        "name": "reports",
        "path": "/tmp/drover/reports.tgz",
        "archive": {"none": {}},
        "optional": True,
        "s3": {"key": "drover/{{workflow.name}}/workers/{{pod.name}}.tgz"},
    }
    cleanup = templates["cleanup"]
    cleanup_args = cleanup["container"]["args"]
    assert cleanup_args[cleanup_args.index("--workers") + 1] == "/tmp/drover-in/workers"
    assert cleanup_args[cleanup_args.index("--out") + 1] == "/tmp/drover/run-reports.tgz"
    assert cleanup["inputs"]["artifacts"] == [
        {"name": "workers", "path": "/tmp/drover-in/workers", "optional": True,
         "s3": {"key": "drover/{{workflow.name}}/workers"}},
    ]  # fmt: skip
    (merged,) = cleanup["outputs"]["artifacts"]
    assert merged["s3"] == {"key": "drover/{{workflow.name}}/run/reports.tgz"}
    assert merged["optional"] is True
    # The shared workspace holds the project's report tools (node_modules).
    assert cleanup_args[cleanup_args.index("--workspace") + 1] == "/workspace"
    assert {m["mountPath"] for m in cleanup["container"]["volumeMounts"]} >= {"/workspace"}


def test_an_artifact_workspace_leaves_the_exit_handler_without_one() -> None:
    cleanup = _compiled("artifact")["cleanup"]
    assert "--workspace" not in cleanup["container"]["args"]
    assert {m["mountPath"] for m in cleanup["container"]["volumeMounts"]} == {"/drover/plan"}
