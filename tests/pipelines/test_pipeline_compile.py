"""Compiled pipelines: Argo-valid documents with the DAG, edges and parameters they promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import engine.errors
import engine.pipelines
from engine.pipelines import (
    PipelineCompileOptions,
    compile_pipeline,
    load_pipeline,
    parse_pipeline,
)
from engine.pipelines.conditions import compile_condition
from tests.argo_reference import argo_errors
from tests.pipelines.pipeline_helpers import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def templates(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = document["spec"].get("workflowSpec") or document["spec"]
    return {t["name"]: t for t in spec["templates"]}


def tasks(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in templates(document)["main"]["dag"]["tasks"]}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_example_compiles_to_argo_valid_documents(path: Path) -> None:
    compiled = compile_pipeline(load_pipeline(path))
    for document in compiled.documents():
        assert argo_errors(document) == []


def test_the_scheduled_example_is_a_cron_workflow_unless_asked_for_one_run() -> None:
    pipeline = load_pipeline(EXAMPLES / "scheduled.yaml")
    cron = compile_pipeline(pipeline).workflow_dict()
    assert cron["kind"] == "CronWorkflow"
    assert cron["spec"]["schedules"] == ["0 2 * * *", "0 14 * * 6"]
    assert cron["spec"]["timezone"] == "Europe/Berlin"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["workflowSpec"]["onExit"] == "on-exit"
    once = compile_pipeline(pipeline, PipelineCompileOptions(schedule=False)).workflow_dict()
    assert once["kind"] == "Workflow"
    assert argo_errors(once) == []


def test_stages_run_in_order_and_outputs_become_task_arguments() -> None:
    document = compile_pipeline(load_pipeline(EXAMPLES / "stages.yaml")).workflow_dict()
    dag = tasks(document)
    assert "depends" not in dag["version"]
    assert dag["unit"]["depends"] == dag["lint"]["depends"] == "version.Succeeded"
    assert dag["publish"]["depends"] == "unit.Succeeded && lint.Succeeded"
    arguments = {p["name"]: p["value"] for p in dag["unit"]["arguments"]["parameters"]}
    assert arguments["tag"] == "{{tasks.version.outputs.parameters.tag}}"
    lint = templates(document)["job-lint"]
    assert lint["script"]["command"] == ["node"]
    env = {e["name"]: e.get("value") for e in lint["script"]["env"]}
    assert env["TAG"] == "{{inputs.parameters.from-version-tag}}"
    outputs = {
        p["name"]: p["valueFrom"] for p in templates(document)["job-unit"]["outputs"]["parameters"]
    }
    assert outputs["report"] == {"path": "/tmp/drover/outputs/report", "default": ""}
    assert document["spec"]["templates"][0]["dag"]["failFast"] is False


def test_edges_compile_to_depends_results() -> None:
    document = compile_pipeline(load_pipeline(EXAMPLES / "failure-notify.yaml")).workflow_dict()
    dag = tasks(document)
    assert dag["notify"]["depends"] == "(migrate.Failed || migrate.Errored)"
    assert dag["verify"]["depends"] == "migrate.Succeeded"
    assert dag["cleanup"]["depends"].startswith("(migrate.Succeeded || migrate.Failed")


def test_a_join_after_conditional_jobs_accepts_them_skipped() -> None:
    document = compile_pipeline(load_pipeline(EXAMPLES / "branching.yaml")).workflow_dict()
    dag = tasks(document)
    assert dag["report"]["depends"] == (
        "(scale-up.Succeeded || scale-up.Skipped) && (keep.Succeeded || keep.Skipped)"
    )
    assert dag["scale-up"]["when"] == "{{tasks.check.outputs.parameters.condition}} == true"


def test_http_jobs_compile_to_argo_http_templates() -> None:
    document = compile_pipeline(
        load_pipeline(EXAMPLES / "scheduled.yaml"), PipelineCompileOptions(schedule=False)
    ).workflow_dict()
    http = templates(document)["job-fetch"]["http"]
    assert http["url"] == "{{workflow.parameters.api}}"
    assert http["method"] == "GET"
    assert http["headers"] == [
        {
            "name": "Authorization",
            "valueFrom": {"secretKeyRef": {"name": "report-api", "key": "token"}},
        }
    ]
    assert http["successCondition"] == "response.statusCode >= 200 && response.statusCode < 300"
    health = compile_pipeline(load_pipeline(EXAMPLES / "health-check.yaml")).workflow_dict()
    probe = templates(health)["job-probe"]
    assert probe["http"]["timeoutSeconds"] == 5
    assert probe["retryStrategy"]["limit"] == 2
    assert probe["retryStrategy"]["backoff"] == {"duration": "1s", "factor": 2}


def test_run_parameters_override_defaults_and_unknown_ones_are_rejected() -> None:
    pipeline = load_pipeline(EXAMPLES / "health-check.yaml")
    document = compile_pipeline(
        pipeline, PipelineCompileOptions(parameters={"url": "http://x/h"}, run_id="r-1")
    ).workflow_dict()
    assert document["spec"]["arguments"]["parameters"] == [{"name": "url", "value": "http://x/h"}]
    assert document["metadata"]["labels"]["drover.dev/run-id"] == "r-1"
    assert document["metadata"]["labels"]["drover.dev/pipeline"] == "health-check"
    with pytest.raises(engine.errors.SpecError) as caught:
        compile_pipeline(pipeline, PipelineCompileOptions(parameters={"nope": "1"}))
    assert caught.value.path == "parameters.nope"


def test_secrets_env_retries_and_timeouts_reach_the_template() -> None:
    document = compile_pipeline(
        parse_pipeline(
            {
                "kind": "Pipeline",
                "name": "p",
                "jobs": [
                    {
                        "name": "a",
                        "container": {"image": "busybox", "command": ["sh", "-c"], "args": ["env"]},
                        "env": {"MODE": "fast"},
                        "secrets": {"TOKEN": {"name": "creds", "key": "token"}},
                        "retries": {
                            "limit": 3,
                            "backoff": {"duration": "2s", "max_duration": "1m"},
                        },
                        "timeout": "90s",
                    }
                ],
            }
        )
    ).workflow_dict()
    assert argo_errors(document) == []
    template = templates(document)["job-a"]
    assert template["activeDeadlineSeconds"] == 90
    assert template["retryStrategy"] == {
        "limit": 3,
        "retryPolicy": "Always",
        "backoff": {"duration": "2s", "factor": 2, "maxDuration": "60s"},
    }
    assert template["container"]["env"] == [
        {"name": "MODE", "value": "fast"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
    ]


@pytest.mark.parametrize(
    ("when", "argo"),
    [
        ("jobs.a.condition", "{{tasks.a.outputs.parameters.condition}} == true"),
        ("!jobs.a.condition", "!({{tasks.a.outputs.parameters.condition}} == true)"),
        ("jobs.a.outputs.n >= 3", "{{tasks.a.outputs.parameters.n}} >= 3"),
        (
            "jobs.a.result == 'ok' || params.env != \"prod\"",
            "'{{tasks.a.outputs.result}}' == 'ok' || '{{workflow.parameters.env}}' != \"prod\"",
        ),
        (
            "(jobs.a.condition && true) || !(jobs.a.outputs.n == 2)",
            "({{tasks.a.outputs.parameters.condition}} == true && true)"
            " || !({{tasks.a.outputs.parameters.n}} == 2)",
        ),
    ],
)
def test_conditions_compile_to_govaluate(when: str, argo: str) -> None:
    assert compile_condition(when).argo == argo


def test_exported_members_exist() -> None:
    for name in engine.pipelines.__all__:
        assert hasattr(engine.pipelines, name), name
