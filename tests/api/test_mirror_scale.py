"""The mirror at any size, and when its database keeps failing.

A run of 70,000 scenarios is planned, recorded and followed to the end the way ``drover run``
follows it: past Postgres's 65,535 parameters per statement for the queue items, the one
worker's results artifact and the scenario history. A follower whose database fails every time
gives up with one short line instead of retrying forever.

The workflows are written into a real local backend's store as its runner leaves them when
they finish (status and results artifacts), so the mirror reads them through ``LocalBackend``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text

from api.mirror.executions import Mirror, MirrorError
from api.models import LeaseItem, Run, RunWorker, Scenario, ScenarioResult
from api.runs.history import HISTORY_WINDOW, apply_history, record_history
from api.runs.known_history import SCENARIO_OVERHEAD
from api.runs.plans import record_plan, replan
from api.runs.results import _INSERT_AND_READ, ResultIn, ingest_results
from engine.backends.local import LocalBackend
from engine.backends.local.nodes import Node, new_node
from engine.backends.local.status import update_progress
from engine.spec import Execution

SCENARIOS = 70_000
T0 = "2026-01-01T00:00:00Z"


@pytest.fixture
def sessions(client: TestClient) -> Any:
    return client.app.state.service.sessions  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    return LocalBackend(tmp_path_factory.mktemp("local-backend"))


def execution(project: str, count: int, *, strategy: str = "queue") -> Execution:
    ids = [f"tests/test_{i // 100}.py::test_{i}" for i in range(count)]
    return Execution.model_validate(
        {
            "name": project,
            "project": {"name": project, "path": "/srv/project"},
            "flows": [
                {
                    "name": "big",
                    "groups": [
                        {
                            "name": "all",
                            "threads": 1,
                            "strategy": strategy,
                            "scenarios": [{"id": i, "duration": 0.01} for i in ids],
                        }
                    ],
                }
            ],
        }
    )


def status_of(i: int) -> str:
    return "failed" if i % 7 == 0 else "skipped" if i % 11 == 0 else "passed"


def record_run(sessions: Any, run_id: str, spec: Execution, workflow: str) -> None:
    """The run as ``start_run`` records it: the run row, then its plan (groups, workers, queue)."""
    plan = replan(spec)
    with sessions() as session, session.begin():
        session.add(
            Run(
                id=run_id,
                execution_name=spec.name,
                backend="local",
                phase="Running",
                spec=spec.model_dump(mode="json"),
                manifest={},
                total=len(spec.flows[0].groups[0].scenarios),
                workflow_name=workflow,
            )
        )
        session.flush()
        record_plan(session, run_id, plan)


def finish_workflow(
    backend: LocalBackend,
    name: str,
    run_id: str,
    spec: Execution,
    *,
    flow: str = "big",
) -> None:
    """Store ``name`` as the local runner leaves it: Succeeded, its one worker's results
    artifact holding one result per scenario of the spec."""
    nodes: dict[str, Node] = {}

    def add(node_name: str, kind: str, boundary: Node | None, template: str | None) -> Node:
        node = new_node(
            workflow_name=name,
            name=node_name,
            node_type=kind,
            phase="Succeeded",
            started_at=T0,
            boundary=boundary,
            template_name=template,
        )
        nodes[node["id"]] = node
        if boundary is not None:
            boundary.setdefault("children", []).append(node["id"])
        return node

    root = add(name, "DAG", None, "main")
    flow_node = add(f"{name}.{flow}", "DAG", root, "flow-big")
    group = add(f"{name}.{flow}.all", "TaskGroup", flow_node, None)
    retry = add(f"{name}.{flow}.all(0:0)", "Retry", group, "worker")
    pod = add(f"{name}.{flow}.all(0:0)(0)", "Pod", retry, "worker")
    scenarios = spec.flows[0].groups[0].scenarios
    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    results = []
    for i, scenario in enumerate(scenarios):
        counts[status_of(i)] += 1
        results.append({"id": scenario.id, "status": status_of(i), "duration": 0.01 * (i % 5)})
    summary = {"parameters": [{"name": "summary", "value": json.dumps(counts)}]}
    retry["outputs"] = pod["outputs"] = summary
    workflow = {
        "metadata": {"name": name, "uid": f"uid-{run_id}", "labels": {"drover.dev/run-id": run_id}},
        "status": {"phase": "Succeeded", "startedAt": T0, "finishedAt": T0, "nodes": nodes},
    }
    update_progress(workflow)
    backend.store.create(workflow)
    artifact = backend.store.artifact_path(name, pod["id"], "results")
    artifact.parent.mkdir(parents=True, exist_ok=True)
    report = {"group": "big.all", "shard": 0, "results": results}
    artifact.write_text(json.dumps(report))


def test_a_run_of_70000_scenarios_is_recorded_and_mirrored_once_each(
    sessions: Any, backend: LocalBackend
) -> None:
    spec = execution("scale", SCENARIOS)
    record_run(sessions, "scale-1", spec, "scale-wf-1")
    with sessions() as session:
        queued = session.scalar(select(func.count()).where(LeaseItem.run_id == "scale-1"))
        assert queued == SCENARIOS
    finish_workflow(backend, "scale-wf-1", "scale-1", spec)

    final = Mirror(sessions, {"local": backend}, poll_interval=0.01).follow("scale-1")

    assert final is not None and final.final and final.phase == "Succeeded"
    expected = {"passed": 0, "failed": 0, "skipped": 0}
    for i in range(SCENARIOS):
        expected[status_of(i)] += 1
    with sessions() as session:
        run = session.get(Run, "scale-1")
        assert run is not None and run.phase == "Succeeded"
        assert (run.passed, run.failed, run.skipped, run.errored) == (
            expected["passed"],
            expected["failed"],
            expected["skipped"],
            0,
        )
        rows, distinct = session.execute(
            select(func.count(), func.count(ScenarioResult.scenario_id.distinct())).where(
                ScenarioResult.run_id == "scale-1"
            )
        ).one()
        assert rows == distinct == SCENARIOS
        leases = dict(
            session.execute(
                select(LeaseItem.state, func.count())
                .where(LeaseItem.run_id == "scale-1")
                .group_by(LeaseItem.state)
            ).all()
        )
        assert leases == {"done": SCENARIOS}
        history = session.execute(
            select(func.count(), func.count(Scenario.scenario_id.distinct())).where(
                Scenario.project == "scale", Scenario.last_run_id == "scale-1"
            )
        ).one()
        assert tuple(history) == (SCENARIOS, SCENARIOS)
        worker = session.get(RunWorker, ("scale-1", "big.all", 0))
        assert worker is not None and worker.results_read


def add_run(sessions: Any, run_id: str, project: str, total: int) -> None:
    """A run of ``project`` with no workflow: results are ingested into it directly."""
    with sessions() as session, session.begin():
        session.add(
            Run(
                id=run_id,
                execution_name=project,
                backend="none",
                spec={"project": {"name": project}},
                manifest={},
                total=total,
            )
        )


def test_history_keeps_the_latest_durations_of_each_scenario(sessions: Any) -> None:
    """The upsert path of the history: later runs of a project update its scenarios' rows."""
    runs = HISTORY_WINDOW + 2
    for n in range(runs):
        run_id = f"window-{n}"
        add_run(sessions, run_id, "window", 2)
        with sessions() as session, session.begin():
            results = [
                ResultIn(scenario_id="a", status="passed", duration=float(n)),
                ResultIn(scenario_id="b", status="error" if n == runs - 1 else "failed"),
                ResultIn(scenario_id="c", status="passed", duration=n / 2, cost=float(n)),
            ]
            ingest_results(session, run_id, results)
            record_history(session, run_id)
    with sessions() as session:
        rows = {
            s.scenario_id: s
            for s in session.scalars(select(Scenario).where(Scenario.project == "window"))
        }
    kept = range(runs - HISTORY_WINDOW, runs)
    assert (rows["a"].durations, rows["a"].costs) == ([float(n) for n in kept], [])
    assert (rows["c"].durations, rows["c"].costs) == ([n / 2 for n in kept], [n for n in kept])
    assert (rows["a"].last_status, rows["a"].last_run_id) == ("passed", f"window-{runs - 1}")
    assert (rows["b"].durations, rows["b"].costs, rows["b"].last_status) == ([], [], "failed")


def test_history_rows_are_updated_on_their_own_pages_run_after_run(sessions: Any) -> None:
    """Each run updates every history row of its project. With room kept on each page (the
    table's fill factor) the new versions go on the rows' own pages without new index entries
    (HOT updates), and the old ones are reclaimed as the pages are next read; on full pages
    every update went elsewhere and left its dead version to a vacuum, which the embedded
    server, living only as long as a command needs it, seldom gets to run.

    A snapshot another connection to the database holds meanwhile (the app's own pollers,
    autovacuum's analyze) keeps the old versions alive and sends that round's updates elsewhere
    (0.04 once in CI, beside two rounds at 0.96): most rounds, not each, go in place."""
    count = 2_000
    updates = text(
        "SELECT pg_stat_get_xact_tuples_hot_updated('drover_scenarios'::regclass), "
        "pg_stat_get_xact_tuples_updated('drover_scenarios'::regclass)"
    )
    shares = []
    for n in range(6):
        run_id = f"in-place-{n}"
        add_run(sessions, run_id, "in-place", count)
        with sessions() as session, session.begin():
            results = [
                ResultIn(scenario_id=f"tests/test_{i}.py::test_it", status="passed", duration=n)
                for i in range(count)
            ]
            ingest_results(session, run_id, results)
        with sessions() as session, session.begin():
            hot_before, before = session.execute(updates).one()
            record_history(session, run_id)
            hot_after, after = session.execute(updates).one()
        if n:
            assert after - before == count
            shares.append((hot_after - hot_before) / count)
    assert sorted(shares)[len(shares) // 2] >= 0.8, shares  # full pages: every round ~0


def test_plans_take_the_mean_cost_else_the_mean_duration_and_the_overhead(
    sessions: Any,
) -> None:
    with sessions() as session, session.begin():
        session.add(
            Run(
                id="costs-1",
                execution_name="costs",
                backend="none",
                spec={"project": {"name": "costs"}},
                manifest={},
                total=3,
            )
        )
        results = [
            ResultIn(scenario_id="timed", status="passed", duration=0.5),
            ResultIn(scenario_id="costed", status="passed", duration=0.001, cost=0.25),
            ResultIn(scenario_id="broken", status="error", duration=0.1, cost=0.1),
        ]
        ingest_results(session, "costs-1", results)
        record_history(session, "costs-1")
    spec = Execution.model_validate(
        {
            "name": "costs",
            "project": {"name": "costs", "path": "/srv/project"},
            "flows": [{"name": "f", "groups": [{"name": "g", "scenarios": [
                {"id": "timed"}, {"id": "costed"}, {"id": "broken"}, {"id": "new"}
            ]}]}],
        }
    )  # fmt: skip
    with sessions() as session:
        planned = apply_history(session, spec)

    durations = {s.id: s.duration for s in planned.flows[0].groups[0].scenarios}
    assert durations == {
        "timed": pytest.approx(0.5 + SCENARIO_OVERHEAD),
        "costed": 0.25,
        "broken": None,  # an error's time says nothing of what the test takes
        "new": None,
    }


def _rows_filtered(plan: dict[str, Any]) -> int:
    """Rows a plan node and those below it read and threw away in a join's filter."""
    own = int(plan.get("Rows Removed by Join Filter", 0))
    return own + sum(_rows_filtered(child) for child in plan.get("Plans", []))


def test_ingest_stays_linear_on_a_table_postgres_has_no_statistics_of(sessions: Any) -> None:
    """``drover run`` starts the embedded server and stops it after the run, so autovacuum
    seldom analyses the results table: Postgres then guesses 100 rows for ``json_to_recordset``
    and, from the table's size alone, that the batch holds 1 new result. The statement must
    not rescan anything per result of the batch then: it once numbered each new result by
    rescanning the whole batch (12 million rows filtered, 5 s, for 3,461 results)."""
    count = 3_000
    spec = execution("linear", count, strategy="duration")
    record_run(sessions, "linear-earlier", spec, "linear-wf-earlier")
    record_run(sessions, "linear", spec, "linear-wf")
    batch = [
        ResultIn(scenario_id=s.id, status="passed", duration=0.01, attempt=1)
        for s in spec.flows[0].groups[0].scenarios
    ]
    with sessions() as session, session.begin():  # earlier runs' results, ~80 MB of them
        session.execute(
            text(
                "INSERT INTO drover_scenario_results (id, run_id, scenario_id, attempt, status,"
                " artifacts, source, item) SELECT nextval('drover_scenario_results_id_seq'),"
                " 'linear-earlier', 'test_' || n, n, 'passed', '[]', 'agent', repeat('x', 800)"
                " FROM generate_series(1, 100000) AS n"
            )
        )
    engine = sessions.kw["bind"]
    with engine.begin() as conn:  # as if never analysed (Postgres 18's statistics functions)
        conn.execute(text("SELECT pg_clear_relation_stats('public', 'drover_scenario_results')"))
        for column in ("run_id", "scenario_id", "attempt"):
            conn.execute(
                text("SELECT pg_clear_attribute_stats('public', 'drover_scenario_results', "
                     ":column, false)"),
                {"column": column},
            )  # fmt: skip

    rows = json.dumps(
        [{"scenario_id": r.scenario_id, "attempt": 1, "status": "passed", "artifacts": []}
         for r in batch]
    )  # fmt: skip
    with engine.connect() as conn:
        explained = conn.execute(
            text(f"EXPLAIN (ANALYZE, FORMAT JSON) {_INSERT_AND_READ.text}"),
            {"run_id": "linear", "source": "agent", "rows": rows},
        ).scalar_one()
        conn.rollback()
    plan = explained[0]["Plan"]
    assert plan["Actual Rows"] == count
    assert _rows_filtered(plan) < count

    with sessions() as session, session.begin():
        assert ingest_results(session, "linear", batch) == count
        reruns = [r.model_copy(update={"attempt": 2, "status": "failed"}) for r in batch[:10]]
        assert ingest_results(session, "linear", reruns) == 10
    with sessions() as session:
        numbered = session.execute(
            select(ScenarioResult.attempt_number, ScenarioResult.latest, func.count())
            .where(ScenarioResult.run_id == "linear")
            .group_by(ScenarioResult.attempt_number, ScenarioResult.latest)
        ).all()
    assert sorted(tuple(row) for row in numbered) == [(1, False, 10), (1, True, count - 10),
                                                      (2, True, 10)]  # fmt: skip


def test_a_run_reads_finished_only_once_its_results_are_in(
    sessions: Any, backend: LocalBackend
) -> None:
    """The mirror comes back (after a database outage, say) to a workflow that has finished,
    its results only in the workers' artifacts: the run's end is written after they are
    stored and counted, so that no reader sees a finished run with short counters."""
    spec = execution("late", 40)
    record_run(sessions, "late-1", spec, "late-wf-1")
    finish_workflow(backend, "late-wf-1", "late-1", spec)
    writes: list[str] = []
    engine = sessions.kw["bind"]

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        verb = statement.lstrip().upper()
        if "drover_scenario_results" in statement and verb.startswith(("INSERT", "WITH")):
            writes.append("results")
        elif verb.startswith("UPDATE DROVER_RUNS ") and (parameters or {}).get("phase") == (
            "Succeeded"
        ):
            writes.append("end")

    event.listen(engine, "before_cursor_execute", record)
    try:
        Mirror(sessions, {"local": backend}).follow("late-1")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert writes.index("results") < writes.index("end")
    with sessions() as session:
        run = session.get(Run, "late-1")
        assert run is not None and run.phase == "Succeeded"
        assert run.passed + run.failed + run.skipped + run.errored == 40


@pytest.fixture
def history_table_gone(sessions: Any) -> Iterator[None]:
    """The history table is missing (a real, persistent database failure), then restored."""
    engine = sessions.kw["bind"]
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE drover_scenarios RENAME TO drover_scenarios_away"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE drover_scenarios_away RENAME TO drover_scenarios"))


def test_a_follower_whose_database_keeps_failing_stops_with_one_short_line(
    sessions: Any,
    backend: LocalBackend,
    history_table_gone: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = execution("broken", 20, strategy="round-robin")
    record_run(sessions, "broken-1", spec, "broken-wf-1")
    finish_workflow(backend, "broken-wf-1", "broken-1", spec)
    mirror = Mirror(sessions, {"local": backend}, poll_interval=0.001, max_failures=3)

    with caplog.at_level(logging.WARNING), pytest.raises(MirrorError) as raised:
        mirror.follow("broken-1")

    message = str(raised.value)
    assert "\n" not in message and len(message) < 300
    assert message.startswith("mirror of run broken-1 gave up after 3 failed attempts")
    assert "recording the run's counters and scenario history" in message
    assert 'UndefinedTable: relation "drover_scenarios" does not exist' in message
    assert "SELECT" not in message and "INSERT" not in message
    retries = [r.getMessage() for r in caplog.records if r.name == "drover.mirror"]
    assert len(retries) == 2
    assert all("\n" not in line and "SELECT" not in line for line in retries)
    # What could be written was: the results are in, only the history is missing.
    with sessions() as session:
        run = session.get(Run, "broken-1")
        assert run is not None and run.phase == "Succeeded" and run.passed + run.failed > 0


def test_a_run_that_keeps_failing_does_not_hold_up_the_others(
    sessions: Any, backend: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """The service's mirror: a run whose writes always fail (a group's name too long for its
    column) is retried on its own, with backoff, while a healthy run is mirrored to the end."""
    healthy, poisoned = execution("healthy", 30), execution("poisoned", 30)
    record_run(sessions, "healthy-1", healthy, "healthy-wf-1")
    record_run(sessions, "poisoned-1", poisoned, "poisoned-wf-1")
    finish_workflow(backend, "healthy-wf-1", "healthy-1", healthy)
    finish_workflow(backend, "poisoned-wf-1", "poisoned-1", poisoned, flow="f" * 450)
    mirror = Mirror(sessions, {"local": backend}, poll_interval=0.01)
    with caplog.at_level(logging.WARNING, logger="drover.mirror"):
        mirror.attach("poisoned-1")
        mirror.attach("healthy-1")
        mirror.start()
        try:
            deadline = time.monotonic() + 60  # a bound on a hang, not a performance check
            while "healthy-1" in mirror.followed or not mirror.errors:
                assert time.monotonic() < deadline, "the healthy run was not mirrored"
                time.sleep(0.05)
        finally:
            mirror.stop()
    assert "poisoned-1" in mirror.followed
    with sessions() as session:
        run = session.get(Run, "healthy-1")
        assert run is not None and run.phase == "Succeeded"
        assert run.passed + run.failed + run.skipped == 30
    failures = [
        r.getMessage()
        for r in caplog.records
        if r.name == "drover.mirror" and "poisoned-1" in r.getMessage()
    ]
    assert failures and all("\n" not in line for line in failures)
    assert "StringDataRightTruncation" in failures[0]
