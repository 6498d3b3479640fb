"""Agent test helpers: write plan directories, run the real ``drover-agent`` as a process, and
serve a stand-in facade for it to post to."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AGENT_DIR = ROOT / "agent-image"
if str(AGENT_DIR) not in sys.path:  # until the package is installed with the project
    sys.path.insert(0, str(AGENT_DIR))

SHOP = ROOT / "examples" / "shop"

RunAgent = Callable[..., subprocess.CompletedProcess[str]]


def write_plan(
    plan_dir: Path,
    *,
    runner: dict[str, Any],
    workers: dict[str, list[str]],
    path: str | None = str(SHOP),
    repo: str | None = None,
    ref: str = "HEAD",
    setup: Sequence[str | list[str]] = (),
    retries: int = 0,
    scenario_timeout: float | None = None,
    key: str = "main.all",
) -> Path:
    plan_dir.mkdir(parents=True, exist_ok=True)
    run = {
        "version": 1,
        "execution": "shop",
        "run_id": "run-1",
        "project": {
            "repo": repo,
            "path": path,
            "ref": ref,
            "setup": list(setup),
            "runner": {"kind": "pytest", "command": None, "args": [], **runner},
        },
    }
    group = {
        "version": 1,
        "group": key,
        "flow": key.split(".")[0],
        "name": key.split(".")[1],
        "threads": len(workers),
        "strategy": "round-robin",
        "retries": retries,
        "scenario_timeout": scenario_timeout,
        "workers": {
            index: [{"id": i, "name": "", "location": i, "tags": [], "duration": None} for i in ids]
            for index, ids in workers.items()
        },
    }
    (plan_dir / "run.json").write_text(json.dumps(run))
    (plan_dir / f"{key}.json").write_text(json.dumps(group))
    return plan_dir


def run_agent_process(
    *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(AGENT_DIR), environment.get("PYTHONPATH")) if p
    )
    return subprocess.run(
        [sys.executable, "-m", "drover_agent", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def read_results(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def answer_json(handler: BaseHTTPRequestHandler, status: int, document: dict[str, Any]) -> None:
    """A stand-in facade's answer: ``document`` as JSON, with the status the service gives."""
    data = json.dumps(document).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class StandInFacade(ThreadingHTTPServer):
    """A stand-in facade on a free loopback port, answering with ``handler``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """``server`` answering from a thread of its own until the block ends."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
