"""Ctrl-C on ``drover run``: the first stops the run, the second terminates it, SIGTERM ends it
at once; ``drover run`` says so, exits 128 + the signal, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

SLOW_TESTS = """\
import time


def test_slow_one():
    time.sleep(600)


def test_slow_two():
    time.sleep(600)


def test_after():
    pass
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"  # short: the embedded Postgres's socket lives below it


@pytest.fixture
def marker(home: Path) -> str:
    """What marks this test's processes: its DROVER_HOME, also set in every pod."""
    return str(home)


@pytest.fixture
def spec(tmp_path: Path, marker: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_slow.py").write_text(SLOW_TESTS)
    document = {
        "name": "slow",
        "project": {"name": "slow", "path": "project"},
        "test_data": {"DROVER_TEST_MARKER": marker},  # in every pod's environment
        "flows": [
            {
                "name": "main",
                "groups": [
                    {
                        "name": "sleeps",
                        "threads": 2,
                        "scenarios": [
                            {"id": "test_slow.py::test_slow_one"},
                            {"id": "test_slow.py::test_slow_two"},
                        ],
                    },
                    {"name": "after", "scenarios": [{"id": "test_slow.py::test_after"}]},
                ],
            }
        ],
    }
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _processes(marker: str) -> list[tuple[int, str]]:
    """Every process whose command line or environment carries ``marker``, and their children."""
    found: dict[int, str] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] == "Z":
            continue
        parents[int(entry.name)] = int(stat[1])
        if marker in cmdline or marker in environ:
            found[int(entry.name)] = cmdline
    for pid in list(parents):
        ancestor = parents.get(pid)
        while ancestor and ancestor not in found:
            ancestor = parents.get(ancestor)
        if ancestor and pid not in found:
            found[pid] = "(child of a marked process)"
    return sorted(found.items())


class Drover:
    """``drover run`` in its own session, as a shell runs a foreground job."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.output = ""

    def send(self, sig: signal.Signals) -> None:
        os.killpg(self.proc.pid, sig)  # the whole foreground group, as a terminal's Ctrl-C does

    def wait_for(self, text: str) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output += line
            if text in line:
                return
        raise AssertionError(f"drover run ended without saying {text!r}:\n{self.output}")

    def finish(self) -> str:
        self.output += self.proc.communicate(timeout=180)[0]
        return self.output

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode


@pytest.fixture(params=["off", "on"], ids=["in-process", "local-service"])
def drover(
    spec: Path, home: Path, tmp_path: Path, marker: str, request: pytest.FixtureRequest
) -> Iterator[Drover]:
    """``drover run`` on the slow project, once its tests are running: in its own process, and
    in the local service (``engine.cli.local_service``), which receives the signals the command
    does and exits once idle (after 0 s here, so it too must leave nothing behind)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update({"DROVER_HOME": str(home), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    env.update({"DROVER_LOCAL_SERVICE": request.param, "DROVER_LOCAL_SERVICE_IDLE": "0"})
    results = tmp_path / "results.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "run", str(spec), "--results", str(results)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while not any(" -m pytest " in cmd for _, cmd in _processes(marker)):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the slow tests never started"
        time.sleep(0.2)
    yield Drover(proc)
    if proc.poll() is None:  # a failed test: leave nothing running either
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for pid, _ in _processes(marker):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _report(tmp_path: Path) -> dict[str, object]:
    report: dict[str, object] = json.loads((tmp_path / "results.json").read_text())
    return report


def _workflow(home: Path) -> dict[str, Any]:
    path = next((home / "local" / "workflows").glob("*/workflow.json"))
    workflow: dict[str, Any] = json.loads(path.read_text())
    return workflow


def _nothing_left(marker: str) -> None:
    deadline = time.monotonic() + 10  # the runner's last pods are reaped just after it exits
    while _processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes(marker) == []


def test_ctrl_c_stops_the_run(drover: Drover, marker: str, tmp_path: Path, home: Path) -> None:
    drover.send(signal.SIGINT)
    output = drover.finish()
    assert drover.returncode == 130, output
    assert "stopping the run" in output and "press Ctrl-C again to terminate" in output
    assert "Traceback" not in output
    assert str(_report(tmp_path)["verdict"]).startswith("Stopped — ")
    _nothing_left(marker)
    workflow = _workflow(home)
    assert workflow["status"]["message"] == "Stopped with strategy 'Stop'"
    exit_handler = next(n for n in workflow["status"]["nodes"].values() if ".onExit" in n["name"])
    assert exit_handler["phase"] == "Succeeded"  # stop still runs exit handlers


def test_ctrl_c_twice_terminates(drover: Drover, marker: str, tmp_path: Path, home: Path) -> None:
    # The runner is paused, so the stop cannot finish before the second Ctrl-C: it then reads
    # both requests at once, as a busy runner would.
    runner = next(pid for pid, cmd in _processes(marker) if "engine.backends.local.daemon" in cmd)
    os.kill(runner, signal.SIGSTOP)
    try:
        drover.send(signal.SIGINT)
        drover.wait_for("press Ctrl-C again to terminate")
        drover.send(signal.SIGINT)
        drover.wait_for("terminating the run")
    finally:
        os.kill(runner, signal.SIGCONT)
    output = drover.finish()
    assert drover.returncode == 130, output
    assert "Traceback" not in output
    assert str(_report(tmp_path)["verdict"]).startswith("Terminated — ")
    _nothing_left(marker)
    workflow = _workflow(home)
    assert workflow["status"]["message"] == "Stopped with strategy 'Terminate'"
    assert not any(  # terminate runs no exit handler
        ".onExit" in n["name"] and n["phase"] == "Succeeded"
        for n in workflow["status"]["nodes"].values()
    )


def test_sigterm_terminates(drover: Drover, marker: str, tmp_path: Path) -> None:
    drover.send(signal.SIGTERM)
    output = drover.finish()
    assert drover.returncode == 128 + signal.SIGTERM, output
    assert "terminating the run" in output and "stopping" not in output
    assert str(_report(tmp_path)["verdict"]).startswith("Terminated — ")
    _nothing_left(marker)


def test_ctrl_c_stops_a_pipeline(tmp_path: Path, home: Path, marker: str) -> None:
    """A pipeline runs in ``drover run``'s own process: Ctrl-C leaves its runner a request."""
    pipeline = {
        "kind": "Pipeline",
        "name": "sleepy",
        "jobs": [
            {"name": "nap", "script": {"language": "bash", "source": f"sleep 600 # {marker}"}},
            {"name": "after", "needs": ["nap"], "script": {"language": "bash", "source": "true"}},
        ],
    }
    path = tmp_path / "sleepy.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["DROVER_HOME"] = str(home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "run", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
        start_new_session=True,
    )  # fmt: skip
    drover = Drover(proc)
    try:
        drover.wait_for("job nap Running")
        drover.send(signal.SIGINT)
        output = drover.finish()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert drover.returncode == 130, output
    assert "stopping the run" in output and "(stopped on request)" in output
    assert "Traceback" not in output
    _nothing_left(marker)


def test_a_database_gone_mid_run_ends_the_command_with_a_clear_error(
    drover: Drover, marker: str, home: Path
) -> None:
    # Someone stops the embedded Postgres under the run: `drover run` cannot mirror it any
    # more. It says so and how to follow the workflow, which goes on, and exits 1.
    env = {**os.environ, "DROVER_HOME": str(home)}
    cli = [sys.executable, "-m", "engine.cli"]
    subprocess.run([*cli, "db", "stop"], env=env, cwd=ROOT, check=True, capture_output=True)
    output = drover.finish()
    assert drover.returncode == 1, output
    assert "Traceback" not in output and "warning" not in output
    workflow = _workflow(home)["metadata"]["name"]
    assert "error:" in output and workflow in output, output
    assert _workflow(home)["status"]["phase"] == "Running"
    subprocess.run([*cli, "terminate", workflow], env=env, cwd=ROOT, check=True)
    _nothing_left(marker)
