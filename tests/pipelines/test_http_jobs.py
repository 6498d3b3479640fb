"""HTTP jobs against a real HTTP server on 127.0.0.1: success, non-2xx, timeout, retry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.http_template import (
    ConditionError,
    evaluate_condition,
    execute_http_template,
)
from engine.pipelines import compile_pipeline, parse_pipeline
from tests.local.conftest import shell_template, stdout_of, workflow_manifest
from tests.pipelines.pipeline_helpers import HttpServer, jobs_by_name, run_pipeline


def no_secrets(name: str, key: str) -> str | None:
    return None


def compiled_http(job: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    """The compiled http template of a one-job pipeline, with parameters substituted."""
    document = {
        "kind": "Pipeline",
        "name": "h",
        "parameters": parameters,
        "jobs": [{"name": "call", "http": job}],
    }
    workflow = compile_pipeline(parse_pipeline(document)).workflow_dict()
    http: dict[str, Any] = workflow["spec"]["templates"][1]["http"]
    text = json.dumps(http)
    for key, value in parameters.items():
        text = text.replace("{{workflow.parameters." + key + "}}", str(value))
    result: dict[str, Any] = json.loads(text)
    return result


def test_a_2xx_response_succeeds_and_the_body_is_the_result(http_server: HttpServer) -> None:
    template = compiled_http({"url": "${params.url}"}, url=f"{http_server.url}/health")
    outcome = execute_http_template(template, resolve_secret=no_secrets)
    assert outcome.phase == "Succeeded"
    assert json.loads(outcome.outputs["result"]) == {"status": "up"}


def test_a_non_2xx_response_fails_with_the_status_code(http_server: HttpServer) -> None:
    template = compiled_http({"url": f"{http_server.url}/status/503"})
    outcome = execute_http_template(template, resolve_secret=no_secrets)
    assert outcome.phase == "Failed"
    assert "503" in outcome.message
    assert outcome.outputs["result"] == "status page"


def test_a_slow_server_fails_the_job_at_its_timeout(http_server: HttpServer) -> None:
    template = compiled_http({"url": f"{http_server.url}/slow", "timeout": 1})
    assert template["timeoutSeconds"] == 1
    outcome = execute_http_template(template, resolve_secret=no_secrets)
    assert outcome.phase == "Failed"
    assert "no response within 1s" in outcome.message


def test_a_refused_connection_fails_the_job() -> None:
    outcome = execute_http_template({"url": "http://127.0.0.1:9/x"}, resolve_secret=no_secrets)
    assert outcome.phase == "Failed"


def test_success_condition_reads_status_body_and_headers(http_server: HttpServer) -> None:
    template = compiled_http(
        {
            "url": f"{http_server.url}/status/404",
            "success_condition": 'response.statusCode == 404 && response.body contains "status"'
            ' && response.headers["Content-Type"][0] startsWith "text/"',
        }
    )
    assert execute_http_template(template, resolve_secret=no_secrets).phase == "Succeeded"
    template["successCondition"] = "response.statusCode == 200"
    outcome = execute_http_template(template, resolve_secret=no_secrets)
    assert outcome.phase == "Failed"
    assert "evaluated false" in outcome.message


def test_method_body_and_secret_headers_are_sent(http_server: HttpServer) -> None:
    template = compiled_http(
        {
            "method": "POST",
            "url": f"{http_server.url}/echo",
            "body": '{"ping": true}',
            "headers": {"Authorization": {"secret": {"name": "api", "key": "token"}}, "X-A": "1"},
        }
    )
    secrets = {("api", "token"): "Bearer s3cret"}
    outcome = execute_http_template(template, resolve_secret=lambda n, k: secrets.get((n, k)))
    assert outcome.phase == "Succeeded"
    assert json.loads(outcome.outputs["result"]) == {"method": "POST", "body": '{"ping": true}'}
    assert http_server.headers[-1]["Authorization"] == "Bearer s3cret"
    assert http_server.headers[-1]["X-A"] == "1"
    missing = execute_http_template(template, resolve_secret=no_secrets)
    assert missing.phase == "Error"
    assert "secret 'api' has no key 'token'" in missing.message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("response.statusCode in [200, 201] and not (response.body == '')", True),
        ("response.statusCode / 100 == 2", True),
        ("response.body matches '^o.'", True),
        ("len(response.body) > 5 || response.statusCode != 200", False),
    ],
)
def test_expr_subset(condition: str, expected: bool) -> None:
    scope = {"response": {"statusCode": 200, "body": "ok", "headers": {}}}
    assert evaluate_condition(condition, scope) is expected


def test_a_condition_that_is_not_boolean_or_not_parseable_is_an_error() -> None:
    scope = {"response": {"statusCode": 200}}
    for bad in ("response.statusCode", "response.statusCode ==", "nope == 1"):
        with pytest.raises(ConditionError):
            evaluate_condition(bad, scope)


# ---------------------------------------------------------------------------- end to end


def _health(url: str, retries: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {"name": "probe", "http": {"url": "${params.url}", "timeout": 1}}
    if retries:
        probe["retries"] = {"limit": retries}
    return {
        "kind": "Pipeline",
        "name": "health",
        "parameters": {"url": url},
        "jobs": [
            probe,
            {
                "name": "summarize",
                "needs": ["probe"],
                "inputs": {"body": "${jobs.probe.result}"},
                "script": {"language": "python", "source": "print('got', input('body'))"},
            },
        ],
    }


def test_health_check_pipeline_runs_end_to_end(
    backend: LocalBackend, http_server: HttpServer
) -> None:
    workflow = run_pipeline(backend, _health(f"{http_server.url}/health"))
    jobs = jobs_by_name(workflow)
    assert workflow["status"]["phase"] == "Succeeded"
    assert stdout_of(backend, jobs["summarize"]) == 'got {"status": "up"}'


def test_health_check_fails_on_non_2xx_and_on_timeout(
    backend: LocalBackend, http_server: HttpServer
) -> None:
    for path in ("/status/500", "/slow"):
        workflow = run_pipeline(backend, _health(f"{http_server.url}{path}"))
        phases = {name: node["phase"] for name, node in jobs_by_name(workflow).items()}
        assert phases == {"probe": "Failed", "summarize": "Omitted"}, path


def test_health_check_retries_until_the_server_recovers(
    backend: LocalBackend, http_server: HttpServer
) -> None:
    workflow = run_pipeline(backend, _health(f"{http_server.url}/flaky", retries=3))
    assert workflow["status"]["phase"] == "Succeeded"
    assert http_server.hits["/flaky"] == 3
    probe = jobs_by_name(workflow)["probe"]
    assert probe["type"] == "Retry"
    assert len(probe["children"]) == 3


def test_an_http_node_takes_no_slot_of_the_workflows_parallelism(
    backend: LocalBackend, http_server: HttpServer
) -> None:
    """``spec.parallelism`` bounds pods (``woc.activePods``, node_counters.go): a slow HTTP
    request (Argo's agent runs it, not a pod) leaves the one slot to a pod beside it."""
    tasks = [{"name": "call", "template": "call"}, {"name": "work", "template": "work"}]
    templates = [
        {"name": "main", "dag": {"tasks": tasks}},
        {"name": "call", "http": {"url": f"{http_server.url}/slow"}},
        shell_template("work", "true"),
    ]
    done = backend.run(workflow_manifest(templates, parallelism=1))
    nodes = {n["displayName"]: n for n in done["status"]["nodes"].values()}
    assert done["status"]["phase"] == "Succeeded"
    assert nodes["work"]["finishedAt"] < nodes["call"]["finishedAt"]
