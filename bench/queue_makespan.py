"""Queue mode vs static LPT vs round-robin: makespan when real durations drift from estimates.

Run: ``python bench/queue_makespan.py`` (embedded Postgres under /tmp unless ``DATABASE_URL``).

A suite of scenarios with estimated durations; the real durations are the estimates off by a
uniform +-30%. Static plans (LPT on the estimates, round-robin) are fixed before the run, so
their makespan is the busiest shard's real total. Queue mode is simulated over the real lease
logic: a discrete-event loop in which each free worker calls ``lease_scenarios`` against
Postgres (longest expected first, ``SELECT ... FOR UPDATE SKIP LOCKED``) at simulated time.
A second case hides every duration from the planner (all unknown), which is where static
plans lose most. Figures are seconds of simulated time; ratios are to the lower bound
``max(total / threads, longest)``.
"""

from __future__ import annotations

import heapq
import os
import random
import secrets
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from api.database import get_engine, migrate, session_factory
from api.embedded_server import embedded_url, stop_embedded
from api.models import LeaseItem, Run
from api.runs.queue import lease_scenarios
from engine.sharding import ShardItem, Strategy, plan_shards

SCENARIOS, THREADS, DRIFT, SEED = 300, 8, 0.30, 7
GROUP = "suite.all"


def make_suite(count: int, seed: int) -> tuple[list[ShardItem], dict[str, float]]:
    """Scenario estimates (a long-tailed mix, like real suites) and real durations +-DRIFT."""
    rng = random.Random(seed)
    items, real = [], {}
    for i in range(count):
        estimate = round(min(rng.lognormvariate(1.0, 0.9), 60.0), 2)
        items.append(ShardItem(id=f"tests/test_{i:04d}.py::test_case", duration=estimate))
        real[items[-1].id] = estimate * rng.uniform(1 - DRIFT, 1 + DRIFT)
    return items, real


def static_makespan(shards: Sequence[Sequence[str]], real: dict[str, float]) -> float:
    return max(sum(real[i] for i in shard) for shard in shards)


def queue_makespan(
    sessions: sessionmaker[Session],
    items: Sequence[ShardItem],
    real: dict[str, float],
    threads: int,
    *,
    known: bool = True,
) -> float:
    """Run the lease loop at simulated time; returns when the last scenario finishes."""
    run_id = secrets.token_hex(6)
    with sessions() as session:
        session.add(Run(id=run_id, execution_name="bench", backend="sim", spec={}, manifest={}))
        session.flush()
        rows = [
            {
                "run_id": run_id,
                "group_key": GROUP,
                "scenario_id": item.id,
                "expected": (item.duration or 0.0) if known else 0.0,
            }
            for item in items
        ]
        session.execute(insert(LeaseItem).values(rows))
        session.commit()
    start = datetime.now(UTC)
    free: list[tuple[float, int]] = [(0.0, w) for w in range(threads)]
    finish = 0.0
    while free:
        clock, worker = heapq.heappop(free)
        with sessions() as session:
            lease = lease_scenarios(
                session,
                run_id=run_id,
                group_key=GROUP,
                worker=f"w{worker}",
                now=start + timedelta(seconds=clock),
                lease_seconds=3600,
            )
            if not lease.scenarios:
                continue
            done_at = clock + sum(real[s] for s in lease.scenarios)
            session.query(LeaseItem).filter(
                LeaseItem.run_id == run_id, LeaseItem.scenario_id.in_(lease.scenarios)
            ).update({"state": "done"})
            session.commit()
        finish = max(finish, done_at)
        heapq.heappush(free, (done_at, worker))
    return finish


def compare(
    sessions: sessionmaker[Session],
    items: list[ShardItem],
    real: dict[str, float],
    *,
    known: bool,
    threads: int = THREADS,
) -> dict[str, float]:
    planned = items if known else [ShardItem(id=i.id) for i in items]
    lpt = plan_shards(planned, threads, Strategy.DURATION)
    robin = plan_shards(planned, threads, Strategy.ROUND_ROBIN)
    total = sum(real.values())
    return {
        "lower_bound": max(total / threads, max(real.values())),
        "round_robin": static_makespan([s.item_ids for s in robin.shards], real),
        "lpt": static_makespan([s.item_ids for s in lpt.shards], real),
        "queue": queue_makespan(sessions, items, real, threads, known=known),
    }


def with_database(work: Callable[[sessionmaker[Session]], None]) -> None:
    server = os.environ.get("DATABASE_URL")
    pgdata = None
    if server is None:
        base = Path(tempfile.gettempdir()) / "drover-bench-postgres"
        base.mkdir(exist_ok=True)
        base.chmod(0o755)
        pgdata = base / "data"
        server = embedded_url(pgdata)
    server = server.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"drover_bench_{secrets.token_hex(4)}"
    libpq = server.replace("+psycopg", "")
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.replace("/postgres?", f"/{name}?", 1)
    try:
        migrate(url)
        work(session_factory(get_engine(url)))
    finally:
        get_engine(url).dispose()
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if pgdata is not None:
            stop_embedded(pgdata)


def main() -> None:
    def work(sessions: sessionmaker[Session]) -> None:
        items, real = make_suite(SCENARIOS, SEED)
        print(
            f"{SCENARIOS} scenarios on {THREADS} workers, real durations = estimate +-{DRIFT:.0%}"
        )
        for known, title in (
            (True, "estimates known"),
            (False, "durations unknown to the planner"),
        ):
            figures = compare(sessions, items, real, known=known)
            bound = figures["lower_bound"]
            print(f"\n{title}: lower bound {bound:.1f} s")
            for name in ("round_robin", "lpt", "queue"):
                value = figures[name]
                print(f"  {name:<12} {value:8.1f} s   {value / bound:5.3f}x bound")
            print(f"  queue / static LPT = {figures['queue'] / figures['lpt']:.3f}")

    with_database(work)


if __name__ == "__main__":
    main()
