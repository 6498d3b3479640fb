"""A run as a frontend reads it, over HTTP against real Postgres: progress from counters the
ingest keeps (O(groups + workers)), group titles, durations, verdicts, and results named,
numbered 1, 2, 3, joinable to their workers and paged by cursor."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update

from api.models import Run, RunScenario, RunWorker, ScenarioResult
from api.runs.plans import record_plan, replan
from api.runs.results import refresh_counters
from api.runs.verdicts import stopped_by_user, verdict_of
from api.schemas import ResultOut, ResultPage, RunDetail
from engine.loading import parse_execution
from tests.api.conftest import AUTH
from tests.api.test_run_e2e import shop_spec

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def plant_run(
    client: TestClient,
    run_id: str,
    *,
    strategy: str = "round-robin",
    execution_id: int | None = None,
    created_at: datetime | None = None,
    document: dict[str, Any] | None = None,
) -> Any:
    """A run of the shop execution (or of ``document``) with its plan recorded, as
    ``start_run`` records it, but no workflow: the test reports its results itself."""
    document = document or shop_spec()
    document["defaults"]["retries"] = 2  # so a failed scenario may be rerun (attempts 2, 3)
    spec = parse_execution({**document, "name": f"shop-{run_id}"})
    plan = replan(spec, strategy)
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        session.add(
            Run(
                id=run_id,
                execution_id=execution_id,
                execution_name=spec.name,
                backend="local",
                phase="Running",
                total=plan.scenario_count,
                queue_mode=strategy == "queue",
                spec=spec.model_dump(mode="json", exclude_none=True),
                manifest={},
                started_at=T0,
                **({"created_at": created_at} if created_at else {}),
            )
        )
        session.flush()
        record_plan(session, run_id, plan)
        session.commit()
    return plan


def test_a_runs_catalog_keeps_every_scenarios_name_place_and_tags(client: TestClient) -> None:
    """The catalog a run is started with is copied in (``COPY``'s text format escapes tabs,
    newlines and backslashes); recording it again adds only the rows the run lacks."""
    document = shop_spec()
    odd = ["tab\there", "line\nbreak", "back\\slash \\N", "ünïcödé ✓", "quote \"'"]
    for index, scenario in enumerate(document["scenarios"]):
        scenario["name"] = odd[index % len(odd)]
        scenario["location"] += " " + odd[(index + 1) % len(odd)]
        scenario["tags"] = [*scenario.get("tags", []), *([odd[index % len(odd)]] * (index % 2))]
    plan = plant_run(client, "cat1", document=document)
    expected = {
        s.id: (g.key, s.name or None, s.location or None, list(s.tags))
        for g in plan.groups
        for s in g.scenarios
    }
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        dropped = sorted(expected)[::2]
        session.execute(
            delete(RunScenario).where(
                RunScenario.run_id == "cat1", RunScenario.scenario_id.in_(dropped)
            )
        )
        record_plan(session, "cat1", plan)  # again: only what the run lacks is added
        session.commit()
        rows = session.execute(
            select(RunScenario.scenario_id, RunScenario.group_key, RunScenario.name,
                   RunScenario.location, RunScenario.tags).where(RunScenario.run_id == "cat1")
        ).all()  # fmt: skip
    assert {r.scenario_id: (r.group_key, r.name, r.location, r.tags) for r in rows} == expected


def post(client: TestClient, run_id: str, results: list[dict[str, Any]]) -> None:
    response = client.post(
        f"/api/v1/runs/{run_id}/results", json={"results": results}, headers=AUTH
    )
    assert response.status_code == 202, response.text


def set_run(client: TestClient, run_id: str, **values: Any) -> None:
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        session.execute(update(Run).where(Run.id == run_id).values(**values))
        session.commit()


@pytest.fixture(scope="module")
def planted(client: TestClient) -> dict[str, Any]:
    """Run ``fe1``: the first group's shard 0 running, with a rerun and a run retry."""
    plan = plant_run(client, "fe1")
    group = plan.groups[0]
    shard0 = [s.id for s in group.workers[0]]
    base = {"group": group.key, "shard": 0, "worker": "pod-a"}
    at = T0 + timedelta(minutes=1)
    post(
        client,
        "fe1",
        [
            {**base, "id": shard0[0], "status": "failed", "attempt": 1, "duration": 2.0,
             "reported_at": at.isoformat()},
            {**base, "id": shard0[0], "status": "passed", "attempt": 2, "duration": 1.5,
             "reported_at": (at + timedelta(seconds=3)).isoformat()},
            {**base, "id": shard0[1], "status": "failed", "attempt": 1, "duration": 0.5},
        ],
    )  # fmt: skip
    # The run is retried: its second attempt reruns the failed scenario.
    set_run(client, "fe1", attempt=2)
    post(client, "fe1", [{**base, "id": shard0[1], "status": "passed", "attempt": 1}])
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        session.execute(
            update(RunWorker)
            .where(RunWorker.run_id == "fe1", RunWorker.group_key == group.key)
            .where(RunWorker.shard == 0)
            .values(phase="Running", started_at=T0, pod_name="pod-a")
        )
        session.commit()
    return {"plan": plan, "group": group, "shard0": shard0}


def detail(client: TestClient, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/runs/{run_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    RunDetail.model_validate(body)  # what the OpenAPI document says it is
    return body


def test_run_detail_progress_comes_from_the_counters(
    client: TestClient, planted: dict[str, Any]
) -> None:
    body = detail(client, "fe1")
    plan, group, shard0 = planted["plan"], planted["group"], planted["shard0"]
    total = plan.scenario_count
    progress = body["progress"]
    assert (progress["total"], progress["completed"], progress["passed"]) == (total, 2, 2)
    assert progress["failed"] == 0  # both failures were rerun and passed
    assert progress["running"] == len(shard0) - 2  # the rest of the running shard
    assert progress["pending"] == total - 2 - progress["running"]
    assert progress["percentage"] == round(100 * 2 / total, 1)
    first = body["groups"][0]
    assert first["key"] == group.key and first["title"] == (group.title or group.name)
    worker = next(w for w in first["workers"] if w["shard"] == 0)
    assert (worker["planned"], worker["completed"]) == (len(shard0), 2)
    assert worker["id"] == f"{group.key}/0"
    assert worker["duration"] is not None and worker["duration"] > 0
    assert body["verdict"] == "running"
    assert body["duration"] > 0 and body["started_at"].startswith("2026-12-01T09:00")


def test_results_are_named_numbered_and_joinable_to_their_worker(
    client: TestClient, planted: dict[str, Any]
) -> None:
    page = client.get("/api/v1/runs/fe1/results", headers=AUTH).json()
    ResultPage.model_validate(page)  # what the OpenAPI document says it is
    assert page["total"] == 4
    first, second = planted["shard0"][:2]
    by = {(r["scenario_id"], r["attempt"]): r for r in page["items"]}
    assert set(by) == {(first, 1), (first, 2), (second, 1), (second, 2)}
    rerun = by[(first, 2)]
    assert rerun["run_attempt"] == 1 and rerun["latest"] and not by[(first, 1)]["latest"]
    retried = by[(second, 2)]  # stored as 100001: the run's second attempt, its first try
    assert retried["run_attempt"] == 2 and retried["status"] == "passed" and retried["latest"]
    scenario = next(s for s in planted["group"].scenarios if s.id == first)
    assert rerun["name"] == scenario.name and rerun["location"] == scenario.location
    assert rerun["tags"] == list(scenario.tags)
    assert rerun["duration"] == 1.5
    assert rerun["finished_at"].startswith("2026-12-01T09:01:03")
    assert rerun["started_at"].startswith("2026-12-01T09:01:01.5")
    workers = {w["id"] for g in detail(client, "fe1")["groups"] for w in g["workers"]}
    assert rerun["worker_id"] in workers


def test_recorded_properties_are_kept_paged_and_in_the_runs_junit(client: TestClient) -> None:
    plan = plant_run(client, "prop1")
    group = plan.groups[0]
    first, second = (s.id for s in group.workers[0][:2])
    base = {"group": group.key, "shard": 0, "worker": "pod-a", "attempt": 1}
    recorded = [["test_key", "PROJ-7"], ["note", 'a <b> & "c"']]
    post(
        client,
        "prop1",
        [{**base, "id": first, "status": "passed", "properties": recorded},
         {**base, "id": second, "status": "failed", "error": "boom"}],
    )  # fmt: skip
    page = client.get("/api/v1/runs/prop1/results", headers=AUTH).json()
    by_id = {r["scenario_id"]: r for r in page["items"]}
    assert by_id[first]["properties"] == recorded
    assert by_id[second]["properties"] == []
    xml = client.get("/api/v1/runs/prop1/report.xml", headers=AUTH)
    assert xml.status_code == 200, xml.text
    cases = {c.get("name"): c for c in ElementTree.fromstring(xml.text).iter("testcase")}
    pairs = [[p.get("name"), p.get("value")] for p in cases[first].iter("property")]
    assert pairs == recorded
    assert cases[second].find("properties") is None
    too_many = {**base, "id": first, "status": "passed", "attempt": 2,
                "properties": [["k", "v"]] * 101}  # fmt: skip
    refused = client.post("/api/v1/runs/prop1/results", json={"results": [too_many]}, headers=AUTH)
    assert refused.status_code == 422 and "properties" in refused.text


def test_results_page_json_is_what_the_model_would_write(client: TestClient) -> None:
    """Postgres writes a page's items itself (``api.runs.result_pages._ITEM``): text that
    needs escaping, missing values and times read back as the values that were posted."""
    plan = plant_run(client, "fe-json")
    group = plan.groups[0]
    first, second = (s.id for s in group.workers[0][:2])
    error = "assert \"a\" == 'b'\\n\tline two\n\u00e9 \U0001f680 </script> \\ end"
    at = T0 + timedelta(minutes=2, microseconds=1)
    post(
        client,
        "fe-json",
        [
            {"id": first, "status": "failed", "group": group.key, "shard": 0, "worker": "p",
             "duration": 0.125, "error": error, "artifacts": ['shot "1".png'],
             "reported_at": at.isoformat()},
            {"id": second, "status": "skipped"},  # no group, shard, worker, duration or time
        ],
    )  # fmt: skip
    items = client.get("/api/v1/runs/fe-json/results", headers=AUTH).json()["items"]
    for item in items:  # every field as the model would write it
        assert item == json.loads(ResultOut.model_validate(item).model_dump_json()) | {
            k: item[k] for k in ("started_at", "finished_at", "created_at")
        }
    failed, skipped = (next(i for i in items if i["scenario_id"] == s) for s in (first, second))
    assert failed["error"] == error and failed["artifacts"] == ['shot "1".png']
    assert failed["duration"] == 0.125 and failed["worker_id"] == f"{group.key}/0"
    assert failed["finished_at"] == "2026-12-01T09:02:00.000001Z"
    assert failed["started_at"] == "2026-12-01T09:01:59.875001Z"
    assert skipped["duration"] is None and skipped["started_at"] is None  # unknown: no duration
    assert skipped["worker_id"] is None and skipped["shard"] is None
    assert skipped["error"] is None and skipped["artifacts"] == []
    for name in ("started_at", "finished_at", "created_at"):  # ISO 8601 in UTC
        assert datetime.fromisoformat(failed[name]).tzinfo == UTC


def test_results_page_by_cursor_sees_every_row_once(
    client: TestClient, planted: dict[str, Any]
) -> None:
    seen: list[tuple[str, int]] = []
    url = "/api/v1/runs/fe1/results?limit=1"
    while True:
        page = client.get(url, headers=AUTH).json()
        seen += [(r["scenario_id"], r["attempt"]) for r in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/runs/fe1/results?limit=1&after={page['next_cursor']}"
    whole = client.get("/api/v1/runs/fe1/results", headers=AUTH).json()["items"]
    assert seen == [(r["scenario_id"], r["attempt"]) for r in whole]
    assert len(seen) == 4
    failed = client.get("/api/v1/runs/fe1/results?status=failed", headers=AUTH).json()
    assert failed["total"] == 2 and {r["attempt"] for r in failed["items"]} == {1}
    missing = client.get("/api/v1/runs/nosuchrun/results", headers=AUTH)
    assert missing.status_code == 404 and "nosuchrun" in missing.json()["detail"]
    bad = client.get("/api/v1/runs/fe1/results?after=nonsense", headers=AUTH)
    assert bad.status_code == 422 and bad.json()["field"] == "after"


def test_a_recount_agrees_with_the_counters_the_ingest_kept(
    client: TestClient, planted: dict[str, Any]
) -> None:
    before = detail(client, "fe1")
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        refresh_counters(session, "fe1")
        session.commit()
    after = detail(client, "fe1")
    assert after["progress"] == before["progress"]
    assert [g["progress"] for g in after["groups"]] == [g["progress"] for g in before["groups"]]
    assert [w["completed"] for g in after["groups"] for w in g["workers"]] == [
        w["completed"] for g in before["groups"] for w in g["workers"]
    ]


def test_a_recount_takes_the_run_row_before_its_workers(
    client: TestClient, planted: dict[str, Any]
) -> None:
    # Every writer of a run locks its row first. A recount that updated the workers' rows and
    # then the run's deadlocked with a retry (run row, then workers): CI once answered a retry
    # with 503 that way. Held here: the run's row; the recount must wait without the workers.
    sessions = client.app.state.service.sessions  # type: ignore[attr-defined]
    done = threading.Event()
    with sessions() as holder:
        holder.execute(select(Run.id).where(Run.id == "fe1").with_for_update())

        def recount() -> None:
            with sessions() as session:
                refresh_counters(session, "fe1")
                session.commit()
            done.set()

        thread = threading.Thread(target=recount)
        thread.start()
        deadline = time.monotonic() + 30
        while not holder.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
            assert time.monotonic() < deadline, "the recount never waited for the run's row"
            time.sleep(0.02)
        with sessions() as other:  # the workers' rows are free while the recount waits
            other.execute(
                select(RunWorker.shard)
                .where(RunWorker.run_id == "fe1")
                .with_for_update(nowait=True)
            ).all()
            other.rollback()
        assert not done.is_set()
        holder.rollback()
    thread.join(timeout=30)
    assert done.is_set()


def test_run_list_items_carry_progress_and_verdict(
    client: TestClient, planted: dict[str, Any]
) -> None:
    items = client.get("/api/v1/runs?phase=running", headers=AUTH).json()["items"]
    item = next(i for i in items if i["id"] == "fe1")
    assert item["progress"] == detail(client, "fe1")["progress"]
    assert item["verdict"] == "running"


def test_queue_mode_runs_count_leased_scenarios_as_running(client: TestClient) -> None:
    plan = plant_run(client, "feq", strategy="queue")
    group = plan.groups[0].key
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        from api.runs.queue import lease_scenarios

        got = lease_scenarios(
            session, run_id="feq", group_key=group, worker="w", count=2, lease_seconds=60
        )
        session.commit()
    assert len(got.scenarios) == 2
    post(client, "feq", [{"id": got.scenarios[0], "status": "passed", "group": group}])
    progress = detail(client, "feq")["progress"]
    assert (progress["completed"], progress["running"]) == (1, 1)


@pytest.mark.parametrize(
    ("phase", "message", "counts", "verdict"),
    [
        ("Succeeded", None, (3, 3, 0, 0, 0), "passed"),
        ("Succeeded", None, (3, 2, 1, 0, 0), "failed"),  # continue_on_failure: Argo succeeds
        ("Failed", None, (3, 2, 0, 0, 0), "errored"),  # a scenario never ran
        ("Failed", "Stopped with strategy 'Stop'", (3, 1, 0, 0, 0), "canceled"),
        ("Canceling", None, (3, 1, 0, 0, 0), "canceled"),
        # stopped before any node failed: Argo's phase is Succeeded with the node's message
        ("Succeeded", "workflow shutdown with strategy: Stop", (3, 0, 0, 0, 0), "canceled"),
        ("Running", None, (3, 1, 1, 0, 0), "running"),
    ],
)
def test_verdict_is_apart_from_the_phase(
    phase: str, message: str | None, counts: tuple[int, ...], verdict: str
) -> None:
    total, passed, failed, errored, skipped = counts
    got = verdict_of(
        phase, message, total=total, passed=passed, failed=failed, errored=errored,
        skipped=skipped,
    )  # fmt: skip
    assert got == verdict


@pytest.mark.parametrize(
    ("message", "stopped"),
    [
        ("Stopped with strategy 'Terminate'", True),
        ("workflow shutdown with strategy: Stop", True),  # stopped before any node failed
        ("child 'x' failed", False),
        (None, False),
    ],
)
def test_stopped_by_user_is_one_rule_for_verdicts_and_notifications(
    message: str | None, stopped: bool
) -> None:
    """api/notifications/outbox.py announces ``canceled`` by the same rule as the verdict."""
    assert stopped_by_user(message) is stopped


def test_a_finished_runs_verdict_over_http(client: TestClient, planted: dict[str, Any]) -> None:
    plant_run(client, "fe2")
    set_run(client, "fe2", phase="Failed", message="Stopped with strategy 'Terminate'")
    assert detail(client, "fe2")["verdict"] == "canceled"
    set_run(client, "fe2", phase="Succeeded", message=None, finished_at=T0 + timedelta(minutes=5))
    body = detail(client, "fe2")
    assert body["verdict"] == "errored"  # Succeeded, but no scenario reported
    assert body["duration"] == 300.0


def test_runs_filter_by_verdict_as_the_verdict_field_says(client: TestClient) -> None:
    """``GET /runs?verdict=`` filters in SQL (``verdict_sql``): every run of a grid of phases,
    messages and counts is listed under exactly the verdict its ``verdict`` field shows."""
    phases = ("Pending", "Running", "Canceling", "Succeeded", "Failed", "Error")
    messages = (None, "Stopped with strategy 'Stop'", "workflow shutdown with strategy: Stop", "x")
    counts = ((3, 3, 0, 0, 0), (3, 2, 1, 0, 0), (3, 2, 0, 1, 0), (3, 2, 0, 0, 1), (3, 1, 0, 0, 0))
    grid = [(p, m, c) for p in phases for m in messages for c in counts]
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        for n, (phase, message, (total, passed, failed, errored, skipped)) in enumerate(grid):
            session.add(
                Run(
                    id=f"vd{n}", execution_name="verdicts", backend="local", phase=phase,
                    message=message, total=total, passed=passed, failed=failed, errored=errored,
                    skipped=skipped, spec={}, manifest={},
                )
            )  # fmt: skip
        session.commit()
    mine = {f"vd{n}" for n in range(len(grid))}
    listed: dict[str, str] = {}
    for verdict in ("running", "passed", "failed", "errored", "canceled"):
        items = client.get(f"/api/v1/runs?verdict={verdict}&limit=500", headers=AUTH).json()
        assert {item["verdict"] for item in items["items"]} <= {verdict}
        listed |= {i["id"]: verdict for i in items["items"] if i["id"] in mine}
    assert listed.keys() == mine
    expected = {
        f"vd{n}": verdict_of(p, m, total=c[0], passed=c[1], failed=c[2], errored=c[3], skipped=c[4])
        for n, (p, m, c) in enumerate(grid)
    }
    assert listed == expected
    both = client.get("/api/v1/runs?verdict=Failed,canceled&limit=500", headers=AUTH).json()
    assert {i["verdict"] for i in both["items"]} == {"failed", "canceled"}
    wrong = client.get("/api/v1/runs?verdict=green", headers=AUTH)
    assert wrong.status_code == 422 and "verdict" in wrong.text, wrong.text


def test_a_runs_plan_is_what_it_was_started_with(client: TestClient) -> None:
    """``GET /runs/{id}/plan``: the plan again from the stored spec and strategy, with the
    makespan and lower bound of each group and of the run (the slowest flow's sum)."""
    plan = plant_run(client, "fe-plan", strategy="duration")
    set_run(client, "fe-plan", strategy="duration")
    body = client.get("/api/v1/runs/fe-plan/plan", headers=AUTH).json()
    assert body["predicted_makespan"] == round(plan.predicted_makespan, 1)
    assert [g["key"] for g in body["groups"]] == [g.key for g in plan.groups]
    for got, group in zip(body["groups"], plan.groups, strict=True):
        assert got["strategy"] == "duration"
        assert got["makespan"] == round(group.shards.makespan, 1)
        assert got["lower_bound"] == round(group.shards.lower_bound, 1)
        assert len(got["loads"]) == group.shards.threads
        assert max(got["loads"]) == got["makespan"]
    flows = {g.flow for g in plan.groups}
    slowest = max(sum(g.shards.lower_bound for g in plan.flow_groups(f)) for f in flows)
    assert body["lower_bound"] == round(slowest, 1) <= body["predicted_makespan"]
    assert client.get("/api/v1/runs/nope/plan", headers=AUTH).status_code == 404


def stream_events(
    client: TestClient,
    run_id: str,
    out: list[tuple[str | None, str, Any]],
    *,
    runs: str = "runs",
    **headers: str,
) -> None:
    """Read the events of run ``run_id`` (under ``/api/v1/{runs}/``) into ``out`` (id, event,
    data) as they come, until ``end``."""
    with client.stream(
        "GET", f"/api/v1/{runs}/{run_id}/events", headers={**AUTH, **headers}, timeout=60
    ) as response:
        assert response.status_code == 200
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "event" in fields:
                out.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
                if fields["event"] == "end":
                    return
            fields = {}


def wait_for_events(events: list[Any], count: int) -> None:
    deadline = time.monotonic() + 20
    while len(events) < count:
        assert time.monotonic() < deadline, events
        time.sleep(0.05)


def test_run_events_carry_what_changed_and_resume_by_id(client: TestClient) -> None:
    plan = plant_run(client, "fe3")
    group = plan.groups[0]
    first = group.workers[0][0].id
    events: list[tuple[str | None, str, Any]] = []
    reader = threading.Thread(target=stream_events, args=(client, "fe3", events))
    reader.start()
    wait_for_events(events, 1)
    post(client, "fe3", [{"id": first, "status": "passed", "attempt": 1, "group": group.key,
                          "shard": 0}])  # fmt: skip
    wait_for_events(events, 2)
    set_run(client, "fe3", phase="Succeeded", finished_at=T0 + timedelta(minutes=1))
    reader.join(20)
    kinds = [event for _, event, _ in events]
    assert kinds[0] == "snapshot" and kinds[-1] == "end" and "delta" in kinds
    snapshot_id, _, snapshot = events[0]
    assert snapshot_id and snapshot["id"] == "fe3" and snapshot["groups"]
    delta = events[1][2]
    assert delta["run"]["progress"]["completed"] == 1
    assert delta[f"group:{group.key}"]["progress"]["passed"] == 1
    assert delta[f"worker:{group.key}/0"] == {"completed": 1}  # only what changed
    assert len([k for k in delta if k.startswith("worker:")]) == 1
    assert len(json.dumps(delta)) * 5 < len(json.dumps(snapshot))
    assert events[-1][2] == {"phase": "Succeeded", "verdict": "errored"}

    resumed: list[tuple[str | None, str, Any]] = []
    stream_events(client, "fe3", resumed, **{"Last-Event-ID": str(snapshot_id)})
    assert [event for _, event, _ in resumed] == ["delta", "end"]  # what changed since
    assert resumed[0][2]["run"]["phase"] == "Succeeded"
    fresh: list[tuple[str | None, str, Any]] = []
    stream_events(client, "fe3", fresh, **{"Last-Event-ID": "unknown-7"})
    assert [event for _, event, _ in fresh] == ["snapshot", "end"]


def test_pages_and_details_served_again_change_with_the_run(client: TestClient) -> None:
    plan = plant_run(client, "fe4")
    first, second = (s.id for s in plan.groups[0].workers[0][:2])
    post(client, "fe4", [{"id": first, "status": "passed", "attempt": 1}])
    url = "/api/v1/runs/fe4/results"
    assert [r["scenario_id"] for r in client.get(url, headers=AUTH).json()["items"]] == [first]
    assert detail(client, "fe4")["progress"]["completed"] == 1
    post(client, "fe4", [{"id": second, "status": "failed", "attempt": 1}])
    items = client.get(url, headers=AUTH).json()["items"]
    assert sorted(r["scenario_id"] for r in items) == sorted([first, second])
    assert detail(client, "fe4")["progress"]["completed"] == 2


def test_attempts_keep_their_numbers_whatever_order_they_arrive_in(client: TestClient) -> None:
    """The ingest numbers attempts as they arrive and stores each result's JSON with its row
    (api.runs.results): an earlier attempt arriving late, a rerun, and artifacts reported
    after the result renumber or change rows already stored; their pages must read as pages
    built from the rows alone would."""
    plan = plant_run(client, "fe5")
    group = plan.groups[0]
    first, second = (s.id for s in group.workers[0][:2])
    url = "/api/v1/runs/fe5/results"

    def attempts() -> list[tuple[str, int, bool, str]]:
        set_run(client, "fe5", updated_at=datetime.now(UTC))  # past the cache of pages
        items = client.get(url, headers=AUTH).json()["items"]
        return [(r["scenario_id"], r["attempt"], r["latest"], r["status"]) for r in items]

    post(client, "fe5", [{"id": first, "status": "passed", "attempt": 2}])
    assert attempts() == [(first, 1, True, "passed")]
    post(client, "fe5", [{"id": first, "status": "failed", "attempt": 1}])  # late
    assert attempts() == [(first, 1, False, "failed"), (first, 2, True, "passed")]
    post(
        client,
        "fe5",
        [
            {"id": first, "status": "passed", "attempt": 3},
            {"id": second, "status": "failed", "attempt": 1},
            {"id": second, "status": "passed", "attempt": 2},
        ],
    )
    assert attempts() == [
        (first, 1, False, "failed"),
        (first, 2, False, "passed"),
        (first, 3, True, "passed"),
        (second, 1, False, "failed"),
        (second, 2, True, "passed"),
    ]
    # Artifacts reported after the result (as the mirror does when a worker ends), in one
    # batch with a new attempt of the same scenario.
    post(
        client,
        "fe5",
        [
            {"id": second, "status": "failed", "attempt": 1, "artifacts": ["shot.png"],
             "artifact_dir": "w0/a"},
            {"id": second, "status": "passed", "attempt": 3},
        ],
    )  # fmt: skip
    assert [a[:3] for a in attempts()][3:] == [(second, 1, False), (second, 2, False),
                                                (second, 3, True)]  # fmt: skip
    stored = client.get(url, headers=AUTH).content
    kept = json.loads(stored)["items"][3]
    assert (kept["artifacts"], kept["artifact_dir"]) == (["shot.png"], "w0/a")
    scenario = next(s for s in group.scenarios if s.id == first)
    assert json.loads(stored)["items"][0]["name"] == scenario.name

    # Built from the rows alone (no stored JSON), the page reads the same, byte for byte.
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        session.execute(
            update(ScenarioResult).where(ScenarioResult.run_id == "fe5").values(item=None)
        )
        session.commit()
    set_run(client, "fe5", updated_at=datetime.now(UTC))
    assert client.get(url, headers=AUTH).content == stored
