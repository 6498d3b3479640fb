"""What the API benchmarks share (not a benchmark itself): ``drover serve`` in a subprocess on a
free port, and the loop of concurrent clients that measures an endpoint.

Used by ``bench/api_load.py`` and ``bench/api_scale.py`` (bench/ is on sys.path when they run).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOKEN = "bench-admin-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url_of_db: str) -> tuple[subprocess.Popen[bytes], str]:
    """``drover serve`` (uvicorn, one process, no scheduler) on ``url_of_db``, answering
    /healthz; the process and its base URL. The caller terminates it."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url_of_db,
        "DROVER_ADMIN_TOKEN": TOKEN,
        "DROVER_SCHEDULER": "false",
        "DROVER_HOME": "/tmp/drover-bench-home",
    }
    command = [sys.executable, "-m", "engine.cli", "serve", "--port", str(port)]
    server = subprocess.Popen([*command, "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise SystemExit("drover serve did not answer /healthz")


async def _drive(
    base: str, path: str, clients: int, seconds: float, timeout: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, headers=HEADERS, timeout=timeout
    ) as http:

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await http.get(path)
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
        "errors": errors,
    }


def drive(
    base: str, path: str, *, clients: int, seconds: float, timeout: float = 60
) -> dict[str, float]:
    """``clients`` concurrent clients GET ``path`` back to back for ``seconds``: requests/s,
    p50 and p99 latency in ms, and the count of answers other than 200."""
    return asyncio.run(_drive(base, path, clients, seconds, timeout))
