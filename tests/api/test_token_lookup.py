"""Tokens other than the admin's are looked up in one statement on the reads' connections and
kept a moment (api.auth.authenticate, RecentTokens, api.deps.get_caller): over HTTP, an API
token opens the read routes, an expired one is 401, a worker token is 403 as soon as its run
has finished, and a browser session is refused as soon as it signs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from api.auth import Principal, RecentTokens, create_token
from api.models import ApiToken
from tests.api.test_frontend_runs import plant_run, post, set_run


def _token(client: TestClient, **scope: str) -> str:
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        token = create_token(session, name="a frontend", **scope)
        session.commit()
    return token


def test_tokens_are_let_in_or_refused_by_their_row_and_their_run(client: TestClient) -> None:
    plan = plant_run(client, "tok1")
    post(client, "tok1", [{"id": plan.groups[0].workers[0][0].id, "status": "passed"}])
    api, worker = _token(client), _token(client, run_id="tok1")

    def get(path: str, token: str) -> tuple[int, str]:
        answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code, answer.text

    assert get("/api/v1/runs/tok1/results", api)[0] == 200
    assert get("/api/v1/runs/tok1", api)[0] == 200
    assert get("/api/v1/session", api) == (200, '{"name":"a frontend","expires_at":null}')
    status, text = get("/api/v1/runs/tok1/results", worker)
    assert status == 403 and "worker token" in text  # a worker token reports, it does not read
    set_run(client, "tok1", phase="Succeeded")
    status, text = get("/api/v1/session", worker)
    assert status == 403 and "has finished (Succeeded)" in text

    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        expired = create_token(session, name="expired")
        session.execute(
            update(ApiToken)
            .where(ApiToken.name == "expired")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    status, text = get("/api/v1/runs/tok1/results", expired)
    assert status == 401 and "invalid or expired token" in text
    assert get("/api/v1/runs/tok1/results", "drv_not-a-token")[0] == 401


def test_a_session_signed_out_is_refused_at_once(client: TestClient) -> None:
    client.cookies.clear()
    assert client.post("/api/v1/session", json={"token": _token(client)}).status_code == 200
    assert client.get("/api/v1/session").status_code == 200  # looked up, and kept a moment
    csrf = {"X-CSRF-Token": client.cookies["drover_csrf"]}
    cookie = client.cookies["drover_session"]
    assert client.delete("/api/v1/session", headers=csrf).status_code == 204
    client.cookies.set("drover_session", cookie)  # a copy kept by someone else
    assert client.get("/api/v1/session").status_code == 401
    client.cookies.clear()


def test_a_kept_token_is_refused_past_its_expiry_and_workers_are_never_kept() -> None:
    recent = RecentTokens(max_age=60)
    past = datetime.now(UTC) - timedelta(seconds=1)
    recent.put("a", Principal(name="api", expires_at=past))
    recent.put("b", Principal(name="api", expires_at=datetime.now(UTC) + timedelta(hours=1)))
    recent.put("w", Principal(name="worker", run_id="r1"))
    assert recent.get("a") is None
    assert recent.get("b") is not None and recent.get("b").name == "api"  # type: ignore[union-attr]
    assert recent.get("w") is None
    recent.forget("b")
    assert recent.get("b") is None
