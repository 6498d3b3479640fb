"""Tokens other than the admin's are looked up in one statement on the reads' connections
(api.auth.authenticate, api.deps.get_caller): over HTTP, an API token opens the read routes, an
expired one is 401, and a worker token is 403 once its run has finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from api.auth import create_token
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
        session.execute(
            update(ApiToken)
            .where(ApiToken.name == "a frontend", ApiToken.run_id.is_(None))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    status, text = get("/api/v1/runs/tok1/results", api)
    assert status == 401 and "invalid or expired token" in text
    assert get("/api/v1/runs/tok1/results", "drv_not-a-token")[0] == 401
