"""A large local run through the service: 10,000 scenarios over 50 workers, memory and ingest.

Run: ``python bench/large_local_run.py [--scenarios 10000] [--workers 50] [--files 100]``
(embedded Postgres under /tmp unless ``DATABASE_URL``; a fresh database, dropped afterwards).

Writes a pytest project of ``--scenarios`` short tests in ``--files`` files, then starts
``drover serve`` on a fresh database (the local runner, this machine's cores as the node's
capacity) and runs an execution of one group of ``--workers`` threads through the API, as a
frontend does: ``POST /executions``, ``POST /executions/{id}/run``, then ``GET /runs/{id}``
until it is final. Workers post their results to the service as they come (the facade's
public URL), so each result row records when its worker produced it (``reported_at``) and when
the service stored it (``created_at``, the clock at insert).

Figures:
- memory of what Drover adds, sampled every 0.1 s: the service (API and mirror), the workflow's
  runner, and Postgres (every process of its server), as the sum of their proportional set
  sizes (PSS: shared pages such as Postgres' shared buffers count once) and of their resident
  sizes; the pods (the workers and their pytest) are the workload and left out;
- result-to-row: ``created_at - reported_at`` of every result, p50 / p99 / max;
- every scenario has exactly one result, and how many came live (``source = agent``).
Baseline in the same run: plain ``pytest`` over the same project, its wall time and max RSS.
Targets: Drover's processes under 2 GB together; result-to-row p99 under 1 s.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from http_load import HEADERS, serve  # the sibling benchmark (bench/ is on sys.path)
from queue_makespan import with_database
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

FINAL = {"Succeeded", "Failed", "Error"}
LIMIT_SECONDS = 900.0


def write_project(root: Path, scenarios: int, files: int) -> list[str]:
    """A project of ``scenarios`` passing tests spread over ``files`` files; their node ids."""
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    ids = []
    for f in range(files):
        names = [f"test_{n}" for n in range(f, scenarios, files)]
        body = "".join(f"def {name}():\n    assert {len(name)} > 0\n\n\n" for name in names)
        (root / "tests" / f"test_mod{f}.py").write_text(body)
        ids += [f"tests/test_mod{f}.py::{name}" for name in names]
    return ids


def plain_pytest(project: Path) -> tuple[float, float]:
    """Wall seconds and max RSS (bytes) of ``pytest -q`` over the project."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"plain pytest failed (exit {done.returncode})")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


# --------------------------------------------------------------------------- memory


def _processes() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, command line)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        table[int(entry.name)] = (parent, command)
    return table


def _memory(pid: int) -> tuple[int, int]:
    """PSS and RSS of ``pid`` in bytes (0, 0 once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0, 0
    sizes = {k: int(v.split()[0]) * 1024 for k, _, v in (line.partition(":") for line in lines)
             if k in ("Pss", "Rss")}  # fmt: skip
    return sizes.get("Pss", 0), sizes.get("Rss", 0)


def drover_processes(service: int, postmaster: int | None) -> list[int]:
    """The service, the runners it started (not their pods), and Postgres' processes."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    chosen = [service]
    chosen += [
        p for p in children.get(service, []) if "engine.backends.local.daemon" in table[p][1]
    ]
    if postmaster is not None and postmaster in table:
        chosen += [postmaster, *children.get(postmaster, [])]
    return chosen


class MemorySampler(threading.Thread):
    """The peak of the summed PSS and RSS of :func:`drover_processes`, every 0.1 s."""

    def __init__(self, service: int, postmaster: int | None) -> None:
        super().__init__(daemon=True)
        self.service, self.postmaster = service, postmaster
        self.peak_pss = self.peak_rss = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.1):
            sizes = [_memory(p) for p in drover_processes(self.service, self.postmaster)]
            self.peak_pss = max(self.peak_pss, sum(s[0] for s in sizes))
            self.peak_rss = max(self.peak_rss, sum(s[1] for s in sizes))


def postmaster_pid(sessions: sessionmaker[Session]) -> int | None:
    """The pid of the server's postmaster: the parent of this connection's backend."""
    with sessions() as session:
        backend = session.scalar(text("SELECT pg_backend_pid()"))
    return _processes().get(int(backend or 0), (None, ""))[0]


# --------------------------------------------------------------------------- the run


def execution(name: str, project: Path, ids: list[str], workers: int) -> dict[str, Any]:
    return {
        "kind": "Execution",
        "name": name,
        "project": {"name": name, "path": str(project), "runner": {"kind": "pytest"}},
        "flows": [
            {
                "name": "main",
                "groups": [
                    {"name": "all", "threads": workers, "scenarios": [{"id": i} for i in ids]}
                ],
            }
        ],
    }


def run_through_the_api(base: str, spec: dict[str, Any]) -> tuple[str, float, dict[str, Any]]:
    """Create the execution, run it now, wait until it is final: its id, seconds, detail."""
    with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as http:
        created = http.post("/api/v1/executions", json=spec)
        created.raise_for_status()
        start = time.perf_counter()
        started = http.post(f"/api/v1/executions/{created.json()['id']}/run")
        started.raise_for_status()
        run_id = str(started.json()["id"])
        final_at = None
        while time.perf_counter() - start < LIMIT_SECONDS:
            detail = http.get(f"/api/v1/runs/{run_id}").json()
            counted = sum(detail[k] for k in ("passed", "failed", "skipped", "errored"))
            if detail["phase"] in FINAL:
                final_at = final_at or time.perf_counter()
                # Every result counted, or the workflow long over (a result missing then is
                # reported below, not waited for).
                if counted == detail["total"] or time.perf_counter() - final_at > 30:
                    return run_id, time.perf_counter() - start, detail
            time.sleep(0.2)
    raise SystemExit(f"run {run_id} not final after {LIMIT_SECONDS:.0f} s")


def ingest_delays(sessions: sessionmaker[Session], run_id: str) -> dict[str, Any]:
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT scenario_id, source, extract(epoch FROM created_at - reported_at) "
                "FROM drover_scenario_results WHERE run_id = :run"
            ),
            {"run": run_id},
        ).all()
    delays = sorted(float(r[2]) for r in rows if r[2] is not None)
    return {
        "results": len(rows),
        "scenarios": len({r[0] for r in rows}),
        "live": sum(1 for r in rows if r[1] == "agent"),
        "p50": statistics.median(delays) if delays else float("nan"),
        "p99": delays[max(int(len(delays) * 0.99) - 1, 0)] if delays else float("nan"),
        "max": delays[-1] if delays else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--files", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="drover-large-") as scratch:
        project = Path(scratch) / "project"
        ids = write_project(project, args.scenarios, args.files)
        native_s, native_rss = plain_pytest(project)

        def work(sessions: sessionmaker[Session]) -> None:
            url = str(sessions.kw["bind"].url.render_as_string(hide_password=False))
            server, base = serve(url)
            sampler = MemorySampler(server.pid, postmaster_pid(sessions))
            sampler.start()
            try:
                spec = execution("bench-large", project, ids, args.workers)
                run_id, seconds, detail = run_through_the_api(base, spec)
            finally:
                sampler.stopping.set()
                sampler.join()
                server.terminate()
                server.wait(30)
            figures = ingest_delays(sessions, run_id)
            report(args, ids, native_s, native_rss, seconds, detail, sampler, figures)

        with_database(work)


def report(
    args: argparse.Namespace,
    ids: list[str],
    native_s: float,
    native_rss: float,
    seconds: float,
    detail: dict[str, Any],
    sampler: MemorySampler,
    figures: dict[str, Any],
) -> None:
    mb = 1024 * 1024
    print(f"{len(ids):,} scenarios in {args.files} files, one group of {args.workers} workers")
    print(f"plain pytest          {native_s:7.1f} s   max RSS {native_rss / mb:7.0f} MB")
    print(
        f"drover (API, local)   {seconds:7.1f} s   phase {detail.get('phase')}, "
        f"{seconds / native_s:.1f}x plain pytest's time"
    )
    print(
        f"service + runner + Postgres: peak PSS {sampler.peak_pss / mb:.0f} MB, "
        f"peak RSS {sampler.peak_rss / mb:.0f} MB ({sampler.peak_pss / native_rss:.1f}x plain "
        "pytest's max RSS)"
    )
    print(
        f"results {figures['results']:,} for {figures['scenarios']:,} scenarios "
        f"({figures['live']:,} posted live); result-to-row p50 "
        f"{figures['p50'] * 1000:.0f} ms, p99 {figures['p99'] * 1000:.0f} ms, "
        f"max {figures['max'] * 1000:.0f} ms"
    )
    once = figures["results"] == figures["scenarios"] == len(ids)
    memory_ok = sampler.peak_pss < 2 * 1024**3
    print(
        f"every scenario once: {'yes' if once else 'NO'}; target (under 2 GB, p99 < 1 s): "
        f"{'met' if memory_ok and figures['p99'] < 1.0 and once else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
