"""What a frontend's tables need, over HTTP against real Postgres: run lists filtered, sorted and
dated; schedules by execution; the sharding preview of a stored execution; CORS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from api.models import Run
from api.settings import Settings
from tests.api.conftest import AUTH

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "execution.yaml"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def execution_id(client: TestClient) -> int:
    spec = yaml.safe_load(SHOP.read_text())
    spec["project"]["path"] = str(SHOP.parent)  # the API refuses a relative path
    created = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


@pytest.fixture(scope="module")
def runs(client: TestClient, execution_id: int) -> list[str]:
    """Five runs a day apart, in different phases and of different lengths."""
    phases = ["Succeeded", "Failed", "Running", "Error", "Succeeded"]
    lengths = [30, 300, None, 5, 60]
    ids = []
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        for i, (phase, length) in enumerate(zip(phases, lengths, strict=True)):
            created = T0 + timedelta(days=i)
            started = created + timedelta(seconds=2)
            run = Run(
                id=f"list{i}",
                execution_id=execution_id,
                execution_name="shop-regression",
                backend="local",
                phase=phase,
                spec={},
                manifest={},
                created_at=created,
                started_at=started,
                finished_at=None if length is None else started + timedelta(seconds=length),
            )
            session.add(run)
            ids.append(run.id)
        session.commit()
    return ids


def _ids(client: TestClient, query: str) -> list[str]:
    """Ids of the listed runs of this module's execution (other modules' runs are elsewhere)."""
    response = client.get(f"/api/v1/runs?{query}", headers=AUTH)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["items"] if r["id"].startswith("list")]


@pytest.fixture(autouse=True)
def _runs(runs: list[str]) -> None:
    """Every test here reads the same five runs."""


def test_run_list_filters_by_several_phases_in_any_case(client: TestClient) -> None:
    assert _ids(client, "phase=succeeded&phase=ERROR") == ["list4", "list3", "list0"]
    assert _ids(client, "phase=failed,running") == ["list2", "list1"]


def test_an_unknown_phase_is_422_naming_the_field_and_the_phases(client: TestClient) -> None:
    response = client.get("/api/v1/runs?phase=Succeded", headers=AUTH)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "phase" and "Succeded" in body["detail"]
    assert "Succeeded" in body["hint"]


def test_run_list_sorts_and_takes_a_date_range(client: TestClient) -> None:
    assert _ids(client, "sort=created_at") == ["list0", "list1", "list2", "list3", "list4"]
    # A running run's duration grows until now: the longest.
    assert _ids(client, "sort=-duration") == ["list2", "list1", "list4", "list0", "list3"]
    assert _ids(client, "sort=finished_at")[-1] == "list2"  # unfinished last
    after, before = (T0 + timedelta(days=1)).isoformat(), (T0 + timedelta(days=3)).isoformat()
    query = f"created_after={after}&created_before={before}&sort=created_at"
    assert _ids(client, query.replace("+", "%2B")) == ["list1", "list2"]
    swapped = client.get(
        f"/api/v1/runs?created_after={before}&created_before={after}".replace("+", "%2B"),
        headers=AUTH,
    )
    assert swapped.status_code == 422 and swapped.json()["field"] == "created_after"
    bad_sort = client.get("/api/v1/runs?sort=size", headers=AUTH)
    assert bad_sort.status_code == 422 and bad_sort.json()["field"] == "query.sort"


def test_runs_carry_their_duration_and_schedule(client: TestClient) -> None:
    items = client.get("/api/v1/runs?sort=created_at&limit=2", headers=AUTH).json()["items"]
    assert [i["duration"] for i in items] == [30.0, 300.0]
    assert items[0]["schedule_id"] is None


def test_run_list_by_schedule(client: TestClient, execution_id: int) -> None:
    body = {"execution_id": execution_id, "cron": "0 3 * * *"}
    schedule = client.post("/api/v1/schedules", json=body, headers=AUTH).json()
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        run = session.get(Run, "list3")
        assert run is not None
        run.schedule_id = schedule["id"]
        session.commit()
    assert _ids(client, f"schedule_id={schedule['id']}") == ["list3"]
    listed = client.get(f"/api/v1/schedules?execution_id={execution_id}", headers=AUTH).json()
    assert schedule["id"] in [s["id"] for s in listed["items"]]  # beside the spec's own
    assert {s["execution_id"] for s in listed["items"]} == {execution_id}
    other = client.get(f"/api/v1/schedules?execution_id={execution_id + 1000}", headers=AUTH)
    assert other.json() == {"total": 0, "offset": 0, "limit": 50, "items": []}


def test_sharding_preview_of_a_stored_execution_rounds_its_predictions(
    client: TestClient, execution_id: int
) -> None:
    response = client.post(
        "/api/v1/sharding/preview", json={"execution_id": execution_id}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scenarios"] > 0 and body["predicted_makespan"] > 0
    numbers = [body["predicted_makespan"]] + [
        v for g in body["groups"] for v in (g["makespan"], g["lower_bound"])
    ]
    numbers += [s["load"] for g in body["groups"] for s in g["shards"]]
    assert all(round(n, 1) == n for n in numbers)
    missing = client.post("/api/v1/sharding/preview", json={"execution_id": 99999}, headers=AUTH)
    assert missing.status_code == 404
    both = client.post(
        "/api/v1/sharding/preview", json={"execution_id": 1, "execution": {}}, headers=AUTH
    )
    assert both.status_code == 422


def test_cors_allows_the_configured_origins_only(settings: Settings) -> None:
    configured = Settings(
        **{**settings.model_dump(), "cors_origins": "http://localhost:5173, https://ui.example/"}
    )
    assert configured.cors_origins == ["http://localhost:5173", "https://ui.example"]
    with TestClient(create_app(configured)) as browser:
        preflight = browser.options(
            "/api/v1/runs",
            headers={
                "Origin": "http://localhost:5173",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization,last-event-id",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "last-event-id" in preflight.headers["access-control-allow-headers"].lower()
        got = browser.get("/api/v1/runs", headers={**AUTH, "Origin": "https://ui.example"})
        assert got.headers["access-control-allow-origin"] == "https://ui.example"
        assert got.headers["access-control-allow-credentials"] == "true"
        stranger = browser.get("/api/v1/runs", headers={**AUTH, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers
