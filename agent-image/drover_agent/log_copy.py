"""Keep a copy of everything a command prints, for a log that outlives its pod.

Argo garbage-collects finished pods and their logs with them; a worker that also writes its
output to a file declared as an output artifact keeps it readable from the artifact repository.

:func:`start_log_copy` points the agent's own stdout and stderr (and so its runners') at a
``tee`` process that writes everything to the pod's stdout and to the file; the agent goes on in
the same process, so a worker pays no second Python start-up (~0.3 s a pod on a loaded 2-core
machine). ``tee`` runs in a session of its own: a signal to the pod's process group stops the
agent (which still writes its results) but not the copy, which ends when the last writer closes
the pipe. Without ``tee`` on PATH, :func:`run_with_log_copy` re-runs the agent as a child and
copies the child's output line by line instead; signals reach the child.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

__all__ = ["run_with_log_copy", "start_log_copy"]

TEE_EXIT_WAIT = 10.0
"""Seconds the agent waits for ``tee`` to copy the rest when it ends (a process the runner left
behind may still hold the pipe open)."""


def start_log_copy(log: Path) -> Callable[[], None] | None:
    """Send this process's stdout and stderr through ``tee`` into ``log`` as well; returns the
    function that flushes and waits for the copy at the end, or None when ``tee`` is missing."""
    tee = shutil.which("tee")
    if tee is None:
        return None
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    copier = subprocess.Popen(
        [tee, "--", str(log)], stdin=read_end, start_new_session=True, close_fds=True
    )
    os.close(read_end)
    saved_out, saved_err = os.dup(1), os.dup(2)
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)

    def finish() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)  # this process stops writing to the pipe: tee sees its end
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        try:
            copier.wait(timeout=TEE_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            pass  # a leftover process holds the pipe; tee copies on until it closes it

    return finish


def run_with_log_copy(argv: Sequence[str], log: Path) -> int:
    """Run ``python -m drover_agent *argv`` and copy its output to stdout and ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "drover_agent", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    assert child.stdout is not None
    with log.open("wb") as copy:
        for line in child.stdout:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            copy.write(line)
            copy.flush()
    return child.wait()
