"""A workflow runner started ahead of its workflow, for processes that submit many.

A runner is a new interpreter (``python -m engine.backends.local.daemon NAME``) that imports the
runner's modules before the workflow's first pod starts: ~0.1 s on every run. A long-lived
submitter (the local service) keeps one runner standing by instead: started with ``--standby``,
imported, waiting on its stdin for the one workflow it will run (a line of JSON: the name, the
runtime, the log to write to). The submitter hands it the next workflow and starts another later.

A standby runs as the runner the submitter would have started: the same environment (a standby
started under another one is stopped and a runner started the usual way), its own session, its
output in the workflow's ``runner.log``, in the workflow's directory. One that is gone (killed,
or it failed to import) is passed over; at the submitter's exit its stdin closes and it exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["Order", "Standby", "read_order", "take_order"]

RUNTIME_VARIABLE = "DROVER_LOCAL_RUNTIME"
"""Chosen per workflow (a retried one keeps its own): sent with the order, not compared."""


@dataclass(frozen=True)
class Order:
    """What a standby runner is handed: the workflow to run and where its output goes."""

    name: str
    runtime: str
    directory: Path
    log: Path


class Standby:
    """One runner process waiting for a workflow (see the module docstring)."""

    def __init__(self, env: Mapping[str, str], cwd: Path) -> None:
        self.env = dict(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.backends.local.daemon", "--standby"],
            # Not the caller's directory: ``python -m`` puts it first on sys.path.
            cwd=cwd,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def hand_over(self, order: Order, env: Mapping[str, str]) -> int | None:
        """Give this runner ``order``; its pid, or None when it cannot take it (gone, or
        started under another environment than ``env``: then it is stopped)."""
        if not self.alive():
            return None
        if _comparable(env) != _comparable(self.env):
            self.stop()
            return None
        stdin = self.process.stdin
        assert stdin is not None
        message = {
            "name": order.name,
            "runtime": order.runtime,
            "directory": str(order.directory),
            "log": str(order.log),
        }
        try:
            stdin.write(json.dumps(message).encode() + b"\n")
            stdin.close()
        except OSError:  # it ended meanwhile
            return None
        return self.process.pid

    def stop(self) -> None:
        """End it unused (its stdin closed: it exits on its own)."""
        stdin = self.process.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()


def _comparable(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != RUNTIME_VARIABLE}


def read_order(stream: IO[bytes]) -> Order | None:
    """The order a standby waits for on ``stream``; None when its submitter is gone."""
    line = stream.readline()
    if not line.strip():
        return None
    message = json.loads(line)
    return Order(
        name=str(message["name"]),
        runtime=str(message["runtime"]),
        directory=Path(message["directory"]),
        log=Path(message["log"]),
    )


def take_order(order: Order) -> None:
    """Become the runner ``order`` names, as a runner started for it would be: in its
    directory, writing to its log, with its runtime, reading nothing. The directory comes
    last: a runner seen working there has taken the order whole."""
    os.environ[RUNTIME_VARIABLE] = order.runtime
    with open(os.devnull, "rb") as nothing:
        os.dup2(nothing.fileno(), 0)
    with open(order.log, "ab") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    os.chdir(order.directory)
