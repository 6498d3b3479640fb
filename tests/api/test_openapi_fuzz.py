"""schemathesis against the app's own OpenAPI: no 5xx, every 4xx explains itself in JSON, every
response's status, content type and body match what the document says (issue 13, defect 13),
and every operation but health refuses a caller without a token."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from tests.api.conftest import AUTH

schema = schemathesis.pytest.from_fixture("api_schema")

OPEN = {"/api/v1/healthz", "/api/v1/readyz"}

RESPONSE_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
"""Responses as documented: a status the operation lists, its content type, its schema."""


@pytest.fixture(scope="module")
def api_schema(client: TestClient) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", client.app)


WHOLE_DOCUMENTS = (
    r"^(POST|PUT) /api/v1/(executions|pipelines)(/\{[^}]+\})?$|^POST /api/v1/sharding/preview$"
)
"""Operations whose body is a whole Execution or Pipeline spec: schemathesis's coverage phase
varies each of its nested fields in turn (hundreds of cases each, half a minute in all), which
the spec's own tests cover field by field (tests/spec); here they get generated documents."""

SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def _answers_as_documented(case: Any) -> None:
    response = case.call_and_validate(headers=AUTH, checks=RESPONSE_CHECKS)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and body.get("detail"), response.text[:500]


@schema.exclude(name_regex=WHOLE_DOCUMENTS).parametrize()
@SETTINGS
def test_no_server_errors_and_4xx_bodies_explain(case: Any) -> None:
    _answers_as_documented(case)


@schema.include(name_regex=WHOLE_DOCUMENTS).parametrize()
@settings(SETTINGS, phases=[Phase.generate])
def test_generated_specs_get_no_server_error_and_explained_4xx(case: Any) -> None:
    _answers_as_documented(case)


def test_every_operation_but_health_needs_a_token(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    checked = 0
    for path, operations in paths.items():
        if path in OPEN:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in operations:
            if (path, method) == ("/api/v1/session", "post"):
                continue  # signing in is how a browser gets its session: open by design
            response = client.request(method.upper(), url, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["detail"]
            checked += 1
    assert checked >= 20
