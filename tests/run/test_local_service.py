"""``drover run`` through the local service (``engine.cli.local_service``): one service per home
and environment, taking run after run, with the same output, results and exit code as a run
in the command's own process; a service that cannot take a run leaves it to the command.

Signals passed on to the service, and a service leaving nothing behind once idle, are in
``test_run_interrupt.py`` (its runs go through both paths).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.local_service_client import _service_pid, retire_oldest
from engine.cli.local_service_protocol import (
    service_address,
    service_log,
    service_pid_file,
    write_service_pid,
)

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop" / "execution.yaml"
RUN_ID = re.compile(r"\b[0-9a-f]{12}\b")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def service_env(home: Path) -> Iterator[dict[str, str]]:
    """The commands' environment; the service they start is stopped at the end, as SIGTERM
    stops it."""
    env = {
        **os.environ,
        "DROVER_HOME": str(home),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "DROVER_LOCAL_SERVICE": "on",
        "DROVER_LOCAL_SERVICE_IDLE": "120",
    }
    yield env
    pid_file = service_pid_file(service_address(home, env))
    if pid_file.exists():
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
        _wait_until(lambda: not Path(f"/proc/{pid}").exists(), "the service to exit")
        assert not (home / "postgres" / "postmaster.pid").exists()  # it stopped Postgres


def _wait_until(condition: object, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _run(env: dict[str, str], results: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(SHOP), "--results", str(results)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=300,
    )  # fmt: skip


def _run_named(spec: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``drover run`` given the spec by its name, in its folder."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", spec.name],
        capture_output=True, text=True, env=env, cwd=spec.parent, check=False, timeout=300,
    )  # fmt: skip


def _plan(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "plan", str(SHOP)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip


def _said(done: subprocess.CompletedProcess[str]) -> str:
    """Its stderr, but for the line a service slow to start (a loaded machine) may add."""
    lines = done.stderr.splitlines(keepends=True)
    return "".join(line for line in lines if "starting the local service" not in line)


def _summary(done: subprocess.CompletedProcess[str]) -> list[str]:
    """What the command printed after the run, its ids and times blanked."""
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("shop-regression —"))
    return [RUN_ID.sub("<id>", line) for line in lines[start:]]


def test_runs_share_one_service_and_match_a_run_in_process(
    service_env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results.json"
    runs, reports = [], []
    for switch in ("on", "on", "off"):
        runs.append(_run({**service_env, "DROVER_LOCAL_SERVICE": switch}, results))
        reports.append(json.loads(results.read_text()))

    for done in runs:
        assert done.returncode == 1, done.stdout + done.stderr  # the example fails one test
        assert _said(done) == "", done.stderr
    assert _summary(runs[0]) == _summary(runs[1]) == _summary(runs[2])
    expected = {"passed": 22, "failed": 1, "skipped": 1, "error": 0, "not_run": 0}
    assert [r["counts"] for r in reports] == [expected] * 3
    statuses = [{r["id"]: r["status"] for r in report["results"]} for report in reports]
    assert statuses[0] == statuses[1] == statuses[2]

    # One service took both runs, and is still there for the next.
    log = service_log(home).read_text()
    assert log.count("listening on") == 1 and log.count("running execution shop-regression") == 2
    pid = int(service_pid_file(service_address(home, service_env)).read_text())
    assert Path(f"/proc/{pid}").exists()

    # drover plan reads the durations those runs measured through it, as it reads them itself.
    plans = [_plan({**service_env, "DROVER_LOCAL_SERVICE": switch}) for switch in ("on", "off")]
    assert plans[0].stdout == plans[1].stdout
    assert "durations: 20 from the spec, 3 from earlier runs, 1 unknown" in plans[0].stdout
    assert service_log(home).read_text().count("earlier runs of shop read for a plan") == 1


def test_another_environment_or_home_has_another_service(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = service_address(home)
    monkeypatch.setenv("PWD", "/somewhere/else")  # a shell's own bookkeeping
    monkeypatch.setenv("SHLVL", "7")
    assert service_address(home) == address
    assert service_address(tmp_path / "other-home") != address
    monkeypatch.setenv("PATH", f"/opt/another/bin:{os.environ.get('PATH', '')}")
    assert service_address(home) != address  # pods would inherit another PATH


def test_a_service_that_does_not_take_the_run_leaves_it_to_the_command(
    service_env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    # A service going away: it accepts the connection but closes it before taking the run.
    address = service_address(home, service_env)
    address.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    address.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(address))
    listener.listen(1)
    connections: list[int] = []

    def close_at_once() -> None:
        conn, _ = listener.accept()
        connections.append(1)
        conn.close()

    threading.Thread(target=close_at_once, daemon=True).start()
    try:
        done = _run(service_env, tmp_path / "results.json")
    finally:
        listener.close()
        address.unlink(missing_ok=True)
    assert connections == [1]  # the command asked that service first
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Failed — 1 failed, 22 passed, 1 skipped" in done.stdout
    assert not service_log(home).exists()  # and started none: it ran the execution itself


def test_bad_specs_and_pipelines_read_as_they_do_in_process(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SHOP.read_text() + "threads: 2\n")
    pipeline = ROOT / "examples" / "pipelines" / "stages.yaml"
    said = {}
    for spec, code in ((bad, 2), (tmp_path / "missing.yaml", 2), (pipeline, 0)):
        served, own = (
            _run_named(spec, {**service_env, "DROVER_LOCAL_SERVICE": s}) for s in ["on", "off"]
        )
        assert served.returncode == own.returncode == code, served.stdout + served.stderr
        assert _said(served) == own.stderr
        said[spec.name] = own.stderr
    assert said["bad.yaml"] == "error: threads: unknown field; remove it or check its spelling\n"
    assert said["missing.yaml"] == "error: missing.yaml: no such file\n"
    assert said["stages.yaml"] == ""  # the pipeline ran, in the command's own process


def test_starting_a_service_retires_the_oldest_beyond_the_limit(tmp_path: Path) -> None:
    # Stand-ins named as services are (their socket's path on the command line), oldest first,
    # and a pid file left by a killed service whose number now belongs to another process.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    services = []
    for index in range(3):
        address = runtime / f"service-{index}.sock"
        proc = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)", str(address)]
        )
        service_pid_file(address).write_text(str(proc.pid))
        os.utime(service_pid_file(address), (index, index))
        services.append(proc)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (runtime / "service-stale.pid").write_text(str(bystander.pid))
    os.utime(runtime / "service-stale.pid", (0, 0))
    young_address = runtime / "service-young.sock"  # started a moment ago, not listening yet
    young = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", str(young_address)]
    )
    service_pid_file(young_address).write_text(str(young.pid))
    # Services old enough to retire have long exec'd (one caught execing is another process).
    deadline = time.monotonic() + 30
    while not all(Path(f"/proc/{p.pid}/cmdline").read_bytes() for p in services):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        retire_oldest(runtime, keep=1)
        assert [p.wait(timeout=10) for p in services[:3]] == [-signal.SIGTERM] * 3
        assert young.poll() is None and bystander.poll() is None
        retire_oldest(runtime, keep=0)  # too young to retire, whatever the limit
        assert young.poll() is None
    finally:
        for proc in [*services, young, bystander]:
            proc.kill()
            proc.wait()


def test_a_service_just_spawned_is_alive_while_it_execs(tmp_path: Path) -> None:
    """Right after ``Popen`` returns, the child may still be in exec, its command line empty
    (vfork): taken for a dead process, the command gave up on the service it had just started
    and ran in process, one time in fifty here."""
    for index in range(100):
        address = tmp_path / f"service-{index}.sock"
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(address)])
        try:
            write_service_pid(address, proc.pid)
            assert _service_pid(address) == proc.pid
        finally:
            proc.kill()
            proc.wait()
        assert _service_pid(address) is None


def test_a_relative_home_is_the_commands(service_env: dict[str, str], tmp_path: Path) -> None:
    # The service starts in a directory of its own: DROVER_HOME=home must still mean the
    # command's ./home. (The fixture stops the service of its own, absolute, home.)
    env = {**service_env, "DROVER_HOME": "home", "DROVER_LOCAL_SERVICE_IDLE": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(SHOP)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert _said(done) == ""
    assert list((tmp_path / "home" / "local" / "workflows").glob("shop-regression-*"))
    assert "running execution shop-regression" in service_log(tmp_path / "home").read_text()


def test_discover_starts_the_service_the_run_then_takes(
    service_env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    # discover --execution starts the service beside its collection and does not wait for
    # it; the run that follows at once, while it may still be starting, waits for that one
    # instead of starting a second.
    spec = tmp_path / "discovered.yaml"
    discover = [sys.executable, "-m", "engine.cli", "discover", "--runner", "pytest"]
    done = subprocess.run(
        [*discover, str(SHOP.parent), "--execution", "shop-discovered", "-o", str(spec)],
        capture_output=True, text=True, env=service_env, cwd=ROOT, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pid_file = service_pid_file(service_address(home, service_env))
    started = int(pid_file.read_text())  # named at once, listening or not
    ran = _run_named(spec, service_env)
    assert ran.returncode == 1, ran.stdout + ran.stderr  # the example fails one test
    assert _said(ran) == "", ran.stderr
    log = service_log(home).read_text()
    assert log.count("listening on") == 1 and "running execution shop-discovered" in log
    assert int(pid_file.read_text()) == started

    # A service already there is left alone.
    again = subprocess.run(
        [*discover, str(SHOP.parent), "--execution", "again", "-o", str(tmp_path / "again.yaml")],
        capture_output=True, text=True, env=service_env, cwd=ROOT, check=False, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert service_log(home).read_text().count("listening on") == 1
