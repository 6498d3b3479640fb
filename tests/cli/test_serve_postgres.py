"""``drover serve`` stops the embedded Postgres it started when it is stopped (Ctrl-C, SIGTERM);
one that was running before keeps running until ``drover db stop``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"  # short: the server's socket lives below it
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR")}
    env.update({"DROVER_HOME": str(home), "DROVER_SCHEDULER": "false"})
    return env


def _postgres_processes(pgdata: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        if f"-D {pgdata}" in cmdline and "postgres" in cmdline:
            found.append(int(entry.name))
    return found


def _running(pgdata: Path) -> bool:
    return (pgdata / "postmaster.pid").exists() and bool(_postgres_processes(pgdata))


def _serve_until(sig: signal.Signals, env: dict[str, str]) -> str:
    """Start ``drover serve``, wait until it answers, send ``sig``; its output."""
    port = _free_port()
    # Ctrl-C as from a terminal: a background job's children inherit SIGINT ignored, and the
    # server then shuts down on it but exits 0 (uvicorn re-raises it after its shutdown).
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--log-level",
             "warning"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, ignored)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "drover serve did not answer"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        proc.send_signal(sig)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # as uvicorn exits: by SIGTERM itself; after Ctrl-C, with 130
    assert proc.returncode == (-sig if sig == signal.SIGTERM else 130), output
    return output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_the_postgres_it_started(sig: signal.Signals, env: dict[str, str]) -> None:
    pgdata = Path(env["DROVER_HOME"]) / "postgres"
    output = _serve_until(sig, env)
    assert f"stopped the embedded Postgres under {pgdata}" in output
    assert "RuntimeDirWarning" not in output and "Traceback" not in output
    assert not _running(pgdata)


def test_a_postgres_running_before_keeps_running_until_db_stop(env: dict[str, str]) -> None:
    pgdata = Path(env["DROVER_HOME"]) / "postgres"
    subprocess.run(  # a server left running: started by a process that is gone
        [sys.executable, "-c", "import sys, pathlib; from api.embedded_server import embedded_url; "
         "embedded_url(pathlib.Path(sys.argv[1]))", str(pgdata)],
        env=env, cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip
    assert _running(pgdata)
    try:
        output = _serve_until(signal.SIGTERM, env)
        assert "was running before and keeps running (drover db stop stops it)" in output
        assert _running(pgdata)
        stopped = subprocess.run(
            [sys.executable, "-m", "engine.cli", "db", "stop"],
            capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=120,
        )  # fmt: skip
        assert stopped.returncode == 0, stopped.stderr
        assert f"stopped the embedded Postgres under {pgdata}" in stopped.stdout
        assert not _running(pgdata)
        again = subprocess.run(
            [sys.executable, "-m", "engine.cli", "db", "stop"],
            capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=120,
        )  # fmt: skip
        assert again.returncode == 0 and "is not running" in again.stdout
    finally:
        for pid in _postgres_processes(pgdata):
            os.kill(pid, signal.SIGKILL)


def test_db_commands_stop_the_server_they_start(env: dict[str, str]) -> None:
    pgdata = Path(env["DROVER_HOME"]) / "postgres"
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "db", "upgrade"],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not _running(pgdata)
