"""The API at 2,000 and at 200,000 results: run detail and a results page against /healthz.

Run: ``python bench/api_scale.py`` (embedded Postgres under /tmp unless ``DATABASE_URL``).

Seeds two runs straight into Postgres (COPY), each of 10 groups in 2 flows on 80 workers (8 a
group): one of 2,000 scenario results, one of 200,000. Their counters are recounted the way the
mirror does at a run's end (``refresh_counters``, timed). Then ``drover serve`` (uvicorn, one
process) answers, and this process measures with httpx:

- one client: ``/healthz`` (the baseline: no database), ``/readyz`` (one ``SELECT 1`` through a
  database session: the floor of any route that reads Postgres), ``GET /runs/{id}``, a first
  results page of 100 and of 20, a deep one (by cursor, half way through the run) and a page
  never asked before (a new cursor every request: what the service costs when its cache of
  unchanged pages cannot help), requests interleaved so a noisy machine disturbs all alike;
  the median of each and its ratio to the baseline's; run detail and the page never asked
  before again with an API token (what a frontend holds), which every request looks up;
- 50 concurrent clients (asyncio): the same endpoints one after another, p50 and requests/s;
- SSE: time to a stream's first event and its size, then after one posted result the time to
  the event that reports it and that event's size;
- 500 event streams of the big run open at once: /healthz and run detail with none open, with
  all open (each has had its snapshot), and while every stream takes one change;
- the ingest of a batch of 100 results into each run (its cost must not grow with the run).

Targets (issue 13): run detail and a results page within 3x of /healthz at both sizes, and
within 5x with 50 concurrent clients. Measured figures, and what changed them: the README's
Benchmarks section.
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from http_load import HEADERS, drive, serve
from queue_makespan import with_database  # the sibling benchmark (bench/ is on sys.path)
from sqlalchemy.orm import Session, sessionmaker

from api.auth import create_token
from api.models import Run
from api.runs.result_pages import encode_cursor
from api.runs.results import RESULT_JSON, ResultIn, ingest_results, refresh_counters

GROUPS, THREADS, FLOWS = 10, 8, 2
SIZES = (2_000, 200_000)
ONE_CLIENT_ROUNDS = 200
CLIENTS, SECONDS = 50, 4.0
STREAMS = 500
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def scenario_id(group: int, n: int) -> str:
    return f"tests/g{group}/test_mod{n // 50}.py::test_case_{n}"


def seed(sessions: sessionmaker[Session], libpq: str, run_id: str, size: int) -> None:
    """A run of ``size`` scenarios, each with one result, as its plan and the ingest leave it
    (groups, workers and planned scenarios), written with COPY."""
    per_group = size // GROUPS
    with sessions() as session:
        session.add(
            Run(
                id=run_id,
                execution_name=f"bench-{size}",
                backend="local",
                phase="Running",
                spec={"defaults": {"retries": 3}},  # reruns (attempts 2-4) are results too
                manifest={},
                total=size,
                started_at=T0,
            )
        )
        session.commit()
    groups, workers, scenarios, results = (io.StringIO() for _ in range(4))
    for g in range(GROUPS):
        key, flow = f"flow{g % FLOWS}.group{g}", f"flow{g % FLOWS}"
        ids = [scenario_id(g, n) for n in range(per_group)]
        shards = [ids[k::THREADS] for k in range(THREADS)]
        phase = "Succeeded" if g < GROUPS - 2 else "Running"
        groups.write(
            "\t".join(
                [run_id, key, flow, f"group{g}", f"Group {g}", str(g), "t", str(THREADS),
                 str(per_group), json.dumps(shards), phase]
            ) + "\n"
        )  # fmt: skip
        for k, shard in enumerate(shards):
            workers.write(
                f"{run_id}\t{key}\t{k}\t{phase}\t1\t{len(shard)}\t0\tpod-{g}-{k}\tt\t"
                f"{T0.isoformat()}\n"
            )
            for n, sid in enumerate(shard):
                planned = f"test_case\t{sid}\t{json.dumps(['smoke'] if n % 7 == 0 else [])}"
                scenarios.write(f"{run_id}\t{sid}\t{key}\t{k}\t{planned}\n")
                status = "failed" if n % 13 == 0 else "skipped" if n % 29 == 0 else "passed"
                at = T0 + timedelta(seconds=n)
                error = "AssertionError: expected 2, got 3" if status == "failed" else "\\N"
                # Its scenario's first attempt (number 1, the latest), named from the plan.
                results.write(
                    f"{run_id}\t{sid}\t1\t{key}\t{k}\tpod-{g}-{k}\t{status}\t0.25\t{error}\t[]\t"
                    f"agent\t{at.isoformat()}\t1\tt\t{planned}\n"
                )
    copies = [
        ("drover_run_groups (run_id, key, flow, name, title, position, planned, threads, total,"
         " shards, phase)", groups),
        ("drover_run_workers (run_id, group_key, shard, phase, attempts, planned, completed,"
         " pod_name, results_read, started_at)", workers),
        ("drover_run_scenarios (run_id, scenario_id, group_key, shard, name, location, tags)",
         scenarios),
        ("drover_scenario_results (run_id, scenario_id, attempt, group_key, shard, worker,"
         " status, duration, error, artifacts, source, reported_at, attempt_number, latest,"
         " name, location, tags)", results),
    ]  # fmt: skip
    with psycopg.connect(libpq) as conn, conn.cursor() as cursor:
        for target, data in copies:
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                copy.write(data.getvalue())
        # Each result's JSON, as the ingest stores it with the row.
        cursor.execute(
            f"UPDATE drover_scenario_results AS p SET item = {RESULT_JSON} WHERE run_id = %s",
            (run_id,),
        )
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def recount(sessions: sessionmaker[Session], run_id: str) -> float:
    start = time.perf_counter()
    with sessions() as session, session.begin():
        refresh_counters(session, run_id)
    return time.perf_counter() - start


def ingest_batch(sessions: sessionmaker[Session], run_id: str, size: int) -> float:
    """100 reruns (attempt 2) of scenarios of the first group, through the agents' ingest."""
    batch = [
        ResultIn(scenario_id=scenario_id(0, n), status="passed", attempt=2, duration=0.2)
        for n in range(0, 100 * 13, 13)
    ]
    start = time.perf_counter()
    with sessions() as session, session.begin():
        ingest_results(session, run_id, batch)
    return time.perf_counter() - start


def one_client(
    base: str,
    paths: dict[str, str | Callable[[int], str]],
    headers: dict[str, dict[str, str]] | None = None,
) -> dict[str, float]:
    """Median milliseconds per path, requests interleaved round by round; a path given as a
    function of the round is a different URL each round (never served from a cache); a path
    named in ``headers`` is asked with those (another token)."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as http:
        for round_ in range(ONE_CLIENT_ROUNDS + 10):
            for name, target in paths.items():
                path = target(round_) if callable(target) else target
                start = time.perf_counter()
                response = http.get(path, headers=(headers or {}).get(name))
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
                if round_ >= 10:  # warm-up rounds not counted
                    times[name].append(elapsed * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def sse_costs(base: str, run_id: str, scenario: str) -> dict[str, float]:
    """First event: time and bytes; then one posted result: time to its event, and bytes."""
    events: list[tuple[float, int, str]] = []
    first = threading.Event()
    second = threading.Event()
    opened = time.perf_counter()

    def listen() -> None:
        with (
            httpx.Client(base_url=base, headers=HEADERS, timeout=60) as http,
            http.stream("GET", f"/api/v1/runs/{run_id}/events") as response,
        ):
            size, named = 0, False
            for line in response.iter_lines():
                size += len(line) + 1
                named = named or line.startswith("event: ")
                if line == "" and size > 1:
                    if named:  # an event, not a keep-alive comment
                        events.append((time.perf_counter(), size, ""))
                        (second if first.is_set() else first).set()
                        if second.is_set():
                            return
                    size, named = 0, False

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    first.wait(30)
    posted = time.perf_counter()
    answer = httpx.post(
        f"{base}/api/v1/runs/{run_id}/results",
        json={"results": [{"id": scenario, "status": "passed", "attempt": 2, "duration": 0.1}]},
        headers=HEADERS,
        timeout=60,
    )
    if answer.status_code != 202:
        raise SystemExit(f"posting a result: {answer.status_code} {answer.text[:300]}")
    second.wait(30)
    thread.join(5)
    out = {"first_ms": (events[0][0] - opened) * 1000, "first_bytes": events[0][1]}
    if len(events) > 1:
        out |= {"change_ms": (events[1][0] - posted) * 1000, "change_bytes": events[1][1]}
    return out


async def _with_streams(base: str, run_id: str, streams: int, rounds: int) -> dict[str, float]:
    """Median ms of /healthz and GET /runs/{id} (one client, interleaved), then the same with
    ``streams`` event streams of the run open (each has had its snapshot), then again while
    every stream takes one change (a posted result)."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    out: dict[str, float] = {}
    async with (
        httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=120, limits=limits) as many,
        httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=60) as one,
    ):

        async def measure(label: str) -> None:
            times: dict[str, list[float]] = {"healthz": [], "run": []}
            for _ in range(rounds):
                for name, path in (("healthz", "/healthz"), ("run", f"/api/v1/runs/{run_id}")):
                    start = time.perf_counter()
                    response = await one.get(path)
                    times[name].append((time.perf_counter() - start) * 1000)
                    if response.status_code != 200:
                        raise SystemExit(f"{path}: {response.status_code}")
            for name, values in times.items():
                out[f"{name} {label}"] = statistics.median(values)

        opened = asyncio.Event()
        count = [0]

        async def follow() -> None:
            async with many.stream("GET", f"/api/v1/runs/{run_id}/events") as response:
                async for line in response.aiter_lines():
                    if line == "event: snapshot":
                        count[0] += 1
                        if count[0] == streams:
                            opened.set()

        await measure("alone")
        start = time.perf_counter()
        tasks = [asyncio.create_task(follow()) for _ in range(streams)]
        await asyncio.wait_for(opened.wait(), 120)
        out["open_s"] = time.perf_counter() - start
        await measure("beside the streams")
        answer = await one.post(
            f"/api/v1/runs/{run_id}/results",
            json={"results": [{"id": scenario_id(0, 3), "status": "passed", "attempt": 3}]},
        )
        if answer.status_code != 202:
            raise SystemExit(f"posting a result: {answer.status_code} {answer.text[:300]}")
        await measure("as the streams take a change")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return out


def main() -> None:
    def work(sessions: sessionmaker[Session]) -> None:
        url_of_db = str(sessions.kw["bind"].url.render_as_string(hide_password=False))
        libpq = url_of_db.replace("postgresql+psycopg://", "postgresql://", 1)
        runs = {}
        for size in SIZES:
            run_id = f"scale{size}"
            start = time.perf_counter()
            seed(sessions, libpq, run_id, size)
            seeded = time.perf_counter() - start
            counted = recount(sessions, run_id)
            runs[size] = run_id
            print(
                f"seeded run {run_id}: {size:,} results, {GROUPS} groups, "
                f"{GROUPS * THREADS} workers in {seeded:.1f} s; end-of-run recount "
                f"{counted * 1000:.0f} ms"
            )
        with sessions() as session:  # a frontend's token: looked up by every request it makes
            frontend = {"Authorization": f"Bearer {create_token(session, name='frontend')}"}
            session.commit()
        server, base = serve(url_of_db)
        ratios: dict[str, float] = {}
        try:
            print(f"\none client, median of {ONE_CLIENT_ROUNDS} interleaved requests each:")
            for size, run_id in runs.items():
                middle = scenario_id(GROUPS // 2, size // GROUPS // 2)
                per_group = size // GROUPS

                def fresh(
                    round_: int, run_id: str = run_id, per_group: int = per_group, attempt: int = 0
                ) -> str:
                    at = scenario_id(round_ % GROUPS, (round_ * 7919) % per_group)
                    after = encode_cursor(at, attempt)
                    return f"/api/v1/runs/{run_id}/results?limit=100&after={after}"

                def fresh_too(round_: int) -> str:  # another page than fresh's in the round
                    return fresh(round_, attempt=1)

                paths: dict[str, str | Callable[[int], str]] = {
                    "GET /healthz (baseline)": "/healthz",
                    "GET /readyz (SELECT 1: the floor)": "/api/v1/readyz",
                    "GET /runs/{id}": f"/api/v1/runs/{run_id}",
                    "results, first page of 100": f"/api/v1/runs/{run_id}/results?limit=100",
                    "results, first page of 20": f"/api/v1/runs/{run_id}/results?limit=20",
                    "results, a middle page (cursor)": (
                        f"/api/v1/runs/{run_id}/results?limit=100&after={encode_cursor(middle, 0)}"
                    ),
                    "results, a page never asked before": fresh,
                    "GET /runs/{id}, API token": f"/api/v1/runs/{run_id}",
                    "results, never asked, API token": fresh_too,
                }
                by_token = {name: frontend for name in paths if name.endswith("API token")}
                medians = one_client(base, paths, by_token)
                baseline = medians["GET /healthz (baseline)"]
                print(f"  run of {size:,} results")
                for name, value in medians.items():
                    ratio = value / baseline
                    ratios[f"{name} @ {size:,}"] = ratio
                    print(f"    {name:<36} {value:7.2f} ms  {ratio:5.2f}x baseline")
            print(f"\n{CLIENTS} concurrent clients, {SECONDS:g} s per endpoint:")
            for size, run_id in runs.items():
                paths = {
                    "GET /healthz (baseline)": "/healthz",
                    "GET /runs/{id}": f"/api/v1/runs/{run_id}",
                    "results, first page of 100": f"/api/v1/runs/{run_id}/results?limit=100",
                }
                figures = {
                    name: drive(base, path, clients=CLIENTS, seconds=SECONDS)
                    for name, path in paths.items()
                }
                baseline = figures["GET /healthz (baseline)"]
                print(f"  run of {size:,} results")
                for name, f in figures.items():
                    ratio = f["p50"] / baseline["p50"]
                    ratios[f"{name} @ {size:,}, {CLIENTS} clients"] = ratio
                    print(
                        f"    {name:<34} p50 {f['p50']:7.1f} ms ({ratio:5.2f}x baseline)  "
                        f"{f['rps']:6.0f} req/s ({baseline['rps'] / f['rps']:.2f}x fewer)  "
                        f"errors {f['errors']:.0f}"
                    )
            print("\nSSE (GET /runs/{id}/events):")
            for size, run_id in runs.items():
                costs = sse_costs(base, run_id, scenario_id(GROUPS - 1, 1))
                change = (
                    f"one posted result reported after {costs['change_ms']:.0f} ms in "
                    f"{costs['change_bytes']:,.0f} bytes"
                    if "change_ms" in costs
                    else "no event for a posted result"
                )
                print(
                    f"  run of {size:,}: first event after {costs['first_ms']:.0f} ms, "
                    f"{costs['first_bytes']:,.0f} bytes; {change}"
                )
            print(f"\n{STREAMS} open event streams of the run of {SIZES[-1]:,} (one client):")
            figures = asyncio.run(_with_streams(base, runs[SIZES[-1]], STREAMS, 100))
            print(f"  all {STREAMS} open, each with its snapshot, in {figures.pop('open_s'):.1f} s")
            for label in ("alone", "beside the streams", "as the streams take a change"):
                healthz, run = figures[f"healthz {label}"], figures[f"run {label}"]
                print(
                    f"    {label:<30} /healthz {healthz:6.2f} ms   GET /runs/{{id}} {run:6.2f} ms "
                    f"({run / healthz:4.2f}x)"
                )
        finally:
            server.terminate()
            server.wait(10)
        print("\ningest of a batch of 100 results (agents' posts):")
        for size, run_id in runs.items():
            print(
                f"  into the run of {size:,}: {ingest_batch(sessions, run_id, size) * 1000:.1f} ms"
            )
        singles = {
            k: v
            for k, v in ratios.items()
            if "clients" not in k and "healthz" not in k and "readyz" not in k
        }
        worst_single = max(v for k, v in singles.items() if "API token" not in k)
        worst_token = max(v for k, v in singles.items() if "API token" in k)
        worst_many = max(v for k, v in ratios.items() if "clients" in k and "healthz" not in k)
        print(
            f"\nworst ratio to /healthz: one client {worst_single:.2f}x (target 3x; with an API "
            f"token {worst_token:.2f}x), {CLIENTS} clients {worst_many:.2f}x (target 5x)"
        )

    with_database(work)


if __name__ == "__main__":
    main()
