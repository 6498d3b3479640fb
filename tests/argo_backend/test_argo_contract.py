"""The fake Argo Server is only as lenient as swagger.json: it refuses anything undeclared."""

from __future__ import annotations

import httpx
import pytest

from tests.argo_backend.fake_argo import TOKEN, FakeArgo

AUTH = {"Authorization": TOKEN}


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status"),
    [
        ("GET", "/api/v1/workflowz/drover", {}, None, 404),
        ("PATCH", "/api/v1/workflows/drover/wf", {}, None, 404),
        ("GET", "/api/v1/workflows/drover", {"labelSelector": "a=b"}, None, 400),
        ("GET", "/api/v1/workflows/drover", {"listOptions.limit": "ten"}, None, 400),
        ("GET", "/api/v1/workflow-events/drover", {"listOptions.watch": "yes"}, None, 400),
        ("PUT", "/api/v1/workflows/drover/wf/retry", {}, {"restartSuccessfull": True}, 400),
        ("PUT", "/api/v1/workflows/drover/wf/stop", {}, {"message": 3}, 400),
        (
            "POST",
            "/api/v1/workflows/drover",
            {},
            {"workflow": {"metadata": {}, "spec": {"entrypoint": 1}}},
            400,
        ),
        ("GET", "/api/v1/workflows/drover/wf", {}, {"unexpected": "body"}, 400),
    ],
)
def test_undeclared_requests_are_refused(
    argo: tuple[FakeArgo, str],
    method: str,
    path: str,
    params: dict[str, str],
    body: object,
    status: int,
) -> None:
    fake, url = argo
    response = httpx.request(method, url + path, params=params, json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert fake.requests == []  # refused before reaching the store


def test_declared_request_without_token_is_unauthorized(argo: tuple[FakeArgo, str]) -> None:
    _, url = argo
    assert httpx.get(url + "/api/v1/workflows/drover").status_code == 401
