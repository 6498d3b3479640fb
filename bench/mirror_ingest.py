"""Mirror ingest: scenario results per second into Postgres, batched vs one by one.

Run: ``python bench/mirror_ingest.py [--history 13000,60000] [--history-only]`` (starts an
embedded Postgres under /tmp unless ``DATABASE_URL`` is set; uses a fresh database and drops
it afterwards).

Producer threads emit results at a steady rate the way agents post them; the ingester takes
whatever has arrived (up to 1,000 at a time) and writes it with ``ingest_results`` (one
``INSERT ... ON CONFLICT DO NOTHING`` plus the counter refresh), measuring for each result the
delay from its creation to the commit of its row. The baseline writes each result in its own
call and transaction. Targets: >= 5,000 results/s batched, p99 delay < 1 s.

``--history`` also times what the mirror does when a run finishes: ``record_history`` of runs
of that many scenarios, first into an empty history (inserts), then a second run of the same
scenarios (every row updated). A statement with a parameter per scenario and column fails
above 13,107 scenarios (Postgres takes at most 65,535 parameters); that shows as FAILED.
"""

from __future__ import annotations

import argparse
import os
import queue
import secrets
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from api.database import get_engine, migrate, session_factory
from api.embedded_server import embedded_url
from api.models import Run
from api.runs.history import record_history
from api.runs.results import ResultIn, ingest_results

TOTAL = 20_000
BASELINE_TOTAL = 2_000
BATCH_MAX = 1_000


def fresh_database() -> tuple[str, str]:
    server = os.environ.get("DATABASE_URL")
    if server is None:
        base = Path(tempfile.gettempdir()) / "drover-bench-postgres"
        base.mkdir(exist_ok=True)
        base.chmod(0o755)
        server = embedded_url(base / "data")
    server = server.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"drover_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server, server.replace("/postgres?", f"/{name}?", 1)


def drop_database(server: str, url: str) -> None:
    get_engine(url).dispose()
    name = url.split("/")[-1].split("?")[0]
    with psycopg.connect(server.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_run(sessions: object, run_id: str, *, project: str = "bench", total: int = TOTAL) -> None:
    with sessions() as session:  # type: ignore[operator]
        session.add(
            Run(
                id=run_id,
                execution_name="bench",
                backend="local",
                spec={"project": {"name": project}},
                manifest={},
                total=total,
            )
        )
        session.commit()


def produce(out: queue.Queue[tuple[ResultIn, float]], count: int, rate: float) -> None:
    """Emit ``count`` results at ``rate`` per second (as many agents posting would)."""
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        result = ResultIn(
            scenario_id=f"tests/test_{i // 100}.py::test_{i}",
            status="failed" if i % 17 == 0 else "passed",
            duration=0.1,
            group=f"flow.g{i % 10}",
            shard=i % 8,
            reported_at=datetime.now(UTC),
        )
        out.put((result, time.perf_counter()))


def ingest(
    sessions: object, run_id: str, count: int, rate: float, batch_max: int
) -> dict[str, float]:
    arrivals: queue.Queue[tuple[ResultIn, float]] = queue.Queue()
    producer = threading.Thread(target=produce, args=(arrivals, count, rate))
    start = time.perf_counter()
    producer.start()
    delays: list[float] = []
    done = 0
    while done < count:
        batch = [arrivals.get()]
        while len(batch) < batch_max:
            try:
                batch.append(arrivals.get_nowait())
            except queue.Empty:
                break
        with sessions() as session:  # type: ignore[operator]
            ingest_results(session, run_id, [r for r, _ in batch])
            session.commit()
        committed = time.perf_counter()
        delays += [committed - created for _, created in batch]
        done += len(batch)
    elapsed = time.perf_counter() - start
    producer.join()
    delays.sort()
    return {
        "per_second": count / elapsed,
        "p50_delay": statistics.median(delays),
        "p99_delay": delays[int(len(delays) * 0.99) - 1],
    }


def history(sessions: object, count: int) -> tuple[float | None, float | None]:
    """Seconds ``record_history`` takes for a finished run of ``count`` scenarios: into an
    empty history, then for a second run of the same scenarios; None where it failed."""
    project = f"history-{count}"
    timings: list[float | None] = []
    for n in (1, 2):
        run_id = f"h{count}-{n}"
        new_run(sessions, run_id, project=project, total=count)
        results = [
            ResultIn(
                scenario_id=f"tests/test_{i // 100}.py::test_{i}",
                status="failed" if i % 17 == 0 else "passed",
                duration=0.1 * n,
            )
            for i in range(count)
        ]
        for start in range(0, count, 10_000):
            with sessions() as session:  # type: ignore[operator]
                ingest_results(session, run_id, results[start : start + 10_000])
                session.commit()
        started = time.perf_counter()
        try:
            with sessions() as session, session.begin():  # type: ignore[operator]
                record_history(session, run_id)
        except SQLAlchemyError as error:
            print(f"record_history of {count:,} scenarios: {str(error).splitlines()[0][:160]}")
            timings.append(None)
            continue
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


def _seconds(value: float | None) -> str:
    return "FAILED" if value is None else f"{value:6.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--history",
        default="",
        help="comma-separated scenario counts to time record_history with (e.g. 13000,60000)",
    )
    parser.add_argument("--history-only", action="store_true", help="skip the ingest figures")
    args = parser.parse_args()
    counts = [int(c) for c in args.history.split(",") if c.strip()]
    server, url = fresh_database()
    try:
        migrate(url)
        sessions = session_factory(get_engine(url))
        histories = {count: history(sessions, count) for count in counts}
        if not args.history_only:
            new_run(sessions, "batched")
            new_run(sessions, "single")
            new_run(sessions, "flood")
            # Offered faster than the target, so throughput shows what the ingester sustains.
            flood = ingest(sessions, "flood", TOTAL, rate=1e9, batch_max=BATCH_MAX)
            steady = ingest(sessions, "batched", TOTAL, rate=5_000, batch_max=BATCH_MAX)
            single = ingest(sessions, "single", BASELINE_TOTAL, rate=1e9, batch_max=1)
    finally:
        drop_database(server, url)
    for count, (first, second) in histories.items():
        print(
            f"history of {count:>7,} scenarios: first run {_seconds(first)}, "
            f"second run {_seconds(second)}"
        )
    if args.history_only:
        return
    print(f"results ingested: {TOTAL:,} batched, {BASELINE_TOTAL:,} one by one")
    print(f"batched, all at once      : {flood['per_second']:9,.0f} results/s")
    print(
        f"batched, 5,000/s offered  : {steady['per_second']:9,.0f} results/s, delay p50 "
        f"{steady['p50_delay'] * 1000:.1f} ms, p99 {steady['p99_delay'] * 1000:.1f} ms"
    )
    print(f"baseline one by one       : {single['per_second']:9,.0f} results/s")
    print(f"ratio batched / one by one: {flood['per_second'] / single['per_second']:.1f}x")
    target = flood["per_second"] >= 5_000 and steady["p99_delay"] < 1.0
    print(f"target >= 5,000/s and p99 < 1 s: {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
