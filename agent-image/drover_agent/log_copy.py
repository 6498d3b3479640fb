"""Keep a copy of everything a command prints, for a log that outlives its pod.

Argo garbage-collects finished pods and their logs with them; a worker that also writes its
output to a file declared as an output artifact keeps it readable from the artifact repository.
The agent re-runs itself as a child without ``--log`` and copies the child's output, line by
line, to its own stdout and to the file; signals reach the child, so results still get written.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

__all__ = ["run_with_log_copy"]


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
