"""The API under load from a second process: p50/p99 latency and requests/s, 50 clients.

Run: ``python bench/api_load.py`` (embedded Postgres under /tmp unless ``DATABASE_URL``).

Starts ``drover serve`` (uvicorn, one process) on a fresh database holding one run of 2,000
scenarios in 10 groups, then drives it from this process with 50 concurrent httpx clients:
``GET /api/v1/runs/{id}`` (detail with progress per flow and group), ``GET .../results``
(a page of 100), and as the baseline ``GET /healthz`` (no database), measured the same way.
"""

from __future__ import annotations

from http_load import drive, serve
from queue_makespan import with_database  # the sibling benchmark (bench/ is on sys.path)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from api.models import Run, RunGroup, RunScenario, RunWorker
from api.runs.results import ResultIn, ingest_results

CLIENTS, SECONDS, SCENARIOS, GROUPS, THREADS = 50, 5.0, 2_000, 10, 8


def seed(sessions: sessionmaker[Session]) -> str:
    run_id = "benchrun0001"
    per_group = SCENARIOS // GROUPS
    with sessions() as session:
        session.add(
            Run(
                id=run_id,
                execution_name="bench",
                backend="local",
                phase="Running",
                spec={},
                manifest={},
                total=SCENARIOS,
            )
        )
        session.flush()
        for g in range(GROUPS):
            ids = [f"tests/g{g}/test_{i}.py::test_case" for i in range(per_group)]
            shards = [ids[k::THREADS] for k in range(THREADS)]
            session.execute(
                insert(RunGroup).values(
                    run_id=run_id,
                    key=f"flow{g % 2}.group{g}",
                    flow=f"flow{g % 2}",
                    name=f"group{g}",
                    position=g,
                    threads=THREADS,
                    total=per_group,
                    shards=shards,
                    phase="Running",
                )
            )
            session.execute(
                insert(RunWorker).values(
                    [
                        {
                            "run_id": run_id,
                            "group_key": f"flow{g % 2}.group{g}",
                            "shard": k,
                            "phase": "Running",
                            "planned": len(shards[k]),
                        }
                        for k in range(THREADS)
                    ]
                )
            )
            # The planned scenarios, as record_plan writes them: the ingest counts into them.
            session.execute(
                insert(RunScenario),
                [
                    {"run_id": run_id, "scenario_id": i, "group_key": f"flow{g % 2}.group{g}",
                     "shard": k, "tags": []}
                    for k, shard in enumerate(shards)
                    for i in shard
                ],
            )  # fmt: skip
            done = [
                ResultIn(
                    scenario_id=i,
                    status="failed" if n % 13 == 0 else "passed",
                    duration=1.0,
                    group=f"flow{g % 2}.group{g}",
                )
                for n, i in enumerate(ids[: per_group * 3 // 4])
            ]
            ingest_results(session, run_id, done)
        session.commit()
    return run_id


def main() -> None:
    def work(sessions: sessionmaker[Session]) -> None:
        run_id = seed(sessions)
        url_of_db = str(sessions.kw["bind"].url.render_as_string(hide_password=False))
        server, base = serve(url_of_db)

        def measure(path: str) -> dict[str, float]:
            return drive(base, path, clients=CLIENTS, seconds=SECONDS, timeout=30)

        try:
            print(
                f"{CLIENTS} concurrent clients, {SECONDS:g} s per endpoint, "
                f"run of {SCENARIOS:,} scenarios"
            )
            baseline = measure("/healthz")
            for name, path in (
                ("GET /healthz (baseline)", "/healthz"),
                ("GET /runs/{id}", f"/api/v1/runs/{run_id}"),
                ("GET /runs/{id}/results", f"/api/v1/runs/{run_id}/results?limit=100"),
            ):
                figures = baseline if path == "/healthz" else measure(path)
                print(
                    f"  {name:<26} {figures['rps']:7.0f} req/s  p50 {figures['p50']:6.1f} ms  "
                    f"p99 {figures['p99']:6.1f} ms  errors {figures['errors']:.0f}  "
                    f"({figures['rps'] / baseline['rps']:.2f}x baseline req/s)"
                )
        finally:
            server.terminate()
            server.wait(10)

    with_database(work)


if __name__ == "__main__":
    main()
