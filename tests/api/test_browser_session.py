"""A browser signs in with a token and then works by cookie; changes need the CSRF header."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN


def _signed_in(client: TestClient) -> TestClient:
    client.cookies.clear()
    answer = client.post("/api/v1/session", json={"token": ADMIN})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "admin"
    return client


def test_session_cookie_is_httponly_and_strict(client: TestClient) -> None:
    client.cookies.clear()
    answer = client.post("/api/v1/session", json={"token": ADMIN})
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("drover_session="))
    csrf = next(c for c in cookies if c.startswith("drover_csrf="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    assert "HttpOnly" not in csrf  # the page's script reads it to echo it
    # The session cookie is a token of its own, never the token signed in with.
    assert ADMIN not in session


def test_cookie_reads_without_header_and_changes_need_csrf(client: TestClient) -> None:
    _signed_in(client)
    assert client.get("/api/v1/executions").status_code == 200
    assert client.get("/api/v1/session").json()["name"].startswith("browser session")
    body = {"name": "cookie-project", "repo": "https://example.com/shop.git"}
    refused = client.post("/api/v1/projects", json=body)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    forged = client.post("/api/v1/projects", json=body, headers={"X-CSRF-Token": "guess"})
    assert forged.status_code == 403
    csrf = client.cookies["drover_csrf"]
    accepted = client.post("/api/v1/projects", json=body, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code in (200, 201), accepted.text


def test_sign_out_revokes_the_session_token(client: TestClient) -> None:
    _signed_in(client)
    token = client.cookies["drover_session"]
    csrf = client.cookies["drover_csrf"]
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.clear()
    reused = client.get("/api/v1/executions", headers={"Authorization": f"Bearer {token}"})
    assert reused.status_code == 401


def test_bad_tokens_cannot_sign_in(client: TestClient) -> None:
    client.cookies.clear()
    assert client.post("/api/v1/session", json={"token": "nope"}).status_code == 401
    missing = client.post("/api/v1/session", json={})
    assert missing.status_code == 422 and missing.json()["field"] == "body.token"
    assert client.get("/api/v1/executions").status_code == 401
