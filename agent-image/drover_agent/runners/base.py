"""What every runner adapter shares: the batch context, outcomes, and running one process.

An adapter turns a batch of scenario ids into argument lists (never a shell string), runs them
in the workspace, and reads the runner's own report back into one outcome per scenario id.
Scenarios missing from the report get no outcome; the caller records them as errors.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from drover_agent.results import Property, Status
from drover_agent.stealing import OwnBoard

__all__ = [
    "BatchContext",
    "BatchRun",
    "Outcome",
    "ProcessRun",
    "RunnerAdapter",
    "find_node_binary",
    "kill_process_tree",
    "missing_node_tool",
    "port_env",
    "run_process",
]

OUTPUT_TAIL_LINES = 30


@dataclass(frozen=True)
class Outcome:
    status: Status
    duration: float = 0.0
    error: str | None = None
    artifacts: list[str] = field(default_factory=list)
    earlier: tuple[Outcome, ...] = ()
    """Attempts before this one, oldest first, for a runner that retried the scenario itself
    (Playwright's retries): each becomes a result of its own, with its own artifacts."""
    cost: float | None = None
    """Seconds the runner's session spent on it, overhead included, when the runner says
    (pytest: see :mod:`drover_agent.pytest_plugin`); what plans balance."""
    properties: tuple[Property, ...] = ()
    """What the test recorded about itself (pytest's ``record_property``), in order."""


@dataclass(frozen=True)
class BatchContext:
    workspace: Path
    report_dir: Path
    env: Mapping[str, str]
    attempt: int
    timeout: float | None
    """Seconds for the whole batch (the scenario timeout times the batch size), or no limit."""
    retries: int = 0
    """For a runner that retries failed tests itself (``retries_itself``): how many times."""
    kept_dir: Path | None = None
    """The worker's kept reports (:mod:`drover_agent.kept`), whose ``native/`` gets each
    batch's native report; None: they go to ``report_dir/native``."""
    board: OwnBoard | None = None
    """Peers may take the tail of this batch (:mod:`drover_agent.stealing`); an adapter that
    cannot let them ignores it, and then nothing is taken from it."""

    @property
    def native_dir(self) -> Path:
        """Where the runner's own machine report of this batch goes (kept per attempt)."""
        directory = (self.kept_dir or self.report_dir) / "native"
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    @property
    def raw_artifacts_dir(self) -> Path:
        """Where the runner writes artifacts (Playwright's ``--output``, pytest's
        ``$DROVER_ARTIFACTS_DIR``); the agent then copies each scenario's beside its result."""
        directory = self.report_dir / "raw-artifacts"
        directory.mkdir(parents=True, exist_ok=True)
        return directory


@dataclass
class BatchRun:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    problem: str | None = None
    """Why scenarios may lack an outcome (the runner crashed, timed out, wrote no report)."""
    handed_over: list[str] = field(default_factory=list)
    """Scenarios a peer took from this batch's board: theirs to run and report, not ours."""


class RunnerAdapter(Protocol):
    kind: str

    def run_batch(self, scenario_ids: Sequence[str], context: BatchContext) -> BatchRun: ...


@dataclass(frozen=True)
class ProcessRun:
    exit_code: int | None
    """None when the process could not start or was killed at its deadline."""
    duration: float
    output_tail: str
    problem: str | None = None


def run_process(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
    extra_env: Mapping[str, str] | None = None,
) -> ProcessRun:
    """Run ``argv``, echo its output to ours (the pod log), and keep the last lines for errors.

    At the deadline, or when the agent itself is stopped, the runner dies with its children.
    """
    started = time.monotonic()
    print(f"drover-agent: $ {_display(argv)}", flush=True)
    try:
        # Same process group as the agent: whoever stops the agent's group stops the runner too.
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**env, **(extra_env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        return ProcessRun(None, 0.0, "", f"cannot start {argv[0]!r}: {exc.strerror or exc}")
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    reader = threading.Thread(target=_echo, args=(process, tail), daemon=True)
    reader.start()
    try:
        exit_code: int | None = process.wait(timeout=timeout)
        problem = None
    except subprocess.TimeoutExpired:
        kill_process_tree(process.pid)
        process.wait()
        exit_code = None
        problem = f"timed out after {timeout:g} s; the runner was killed"
    except BaseException:
        # The agent is being stopped (SIGTERM, Ctrl-C): take the runner and its children along.
        kill_process_tree(process.pid)
        process.wait()
        raise
    reader.join(timeout=5)
    return ProcessRun(exit_code, time.monotonic() - started, "\n".join(tail), problem)


def _echo(process: subprocess.Popen[bytes], tail: deque[str]) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode("utf-8", "replace")
        sys.stdout.write(line)
        tail.append(line.rstrip("\n"))
    sys.stdout.flush()


def kill_process_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every descendant (found through /proc; just ``pid`` elsewhere)."""
    for victim in [*_descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state, ppid, ...
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        nxt = [c for p in frontier for c in children.get(p, [])]
        found.extend(nxt)
        frontier = nxt
    return found


def _display(argv: Sequence[str]) -> str:
    shown = " ".join(argv[:12])
    return shown + (f" ... ({len(argv) - 12} more arguments)" if len(argv) > 12 else "")


def find_node_binary(workspace: Path, name: str) -> str:
    """The project's own ``node_modules/.bin/<name>`` (searching upwards), else ``name`` on PATH."""
    for directory in (workspace.resolve(), *workspace.resolve().parents):
        candidate = directory / "node_modules" / ".bin" / name
        if candidate.exists():
            return str(candidate)
    return name


def missing_node_tool(executable: str, workspace: Path) -> str | None:
    """Why ``executable`` (from :func:`find_node_binary`) cannot run, or ``None`` if it can."""
    if os.sep in executable or shutil.which(executable) is not None:
        return None
    return (
        f"{executable} is not installed: no node_modules/.bin/{executable} in {workspace} or "
        "above, and none on PATH; install the project's dependencies in its setup "
        "(for example 'npm ci')"
    )


def port_env(env: Mapping[str, str]) -> dict[str, str]:
    """A free TCP port for one runner process: ``DROVER_PORT``, and ``PORT`` unless ``env`` sets
    it already. Workers of one host (the local runner) would otherwise all start the project's
    web server (Playwright's ``webServer``, say) on the port its configuration hard-codes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))  # the kernel picks a port nobody holds; it is free again on close
        port = str(probe.getsockname()[1])
    return {"DROVER_PORT": port} if env.get("PORT") else {"DROVER_PORT": port, "PORT": port}
