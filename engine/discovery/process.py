"""Run a collector subprocess (an argument list, never a shell string) and capture its output."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.errors import DiscoveryError

__all__ = ["CollectorOutput", "run_collector", "tail"]

COLLECT_TIMEOUT_SECONDS = 600

CollectorOutput = subprocess.CompletedProcess[str]


def run_collector(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> CollectorOutput:
    try:
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=COLLECT_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise DiscoveryError(f"cannot run {argv[0]!r}: no such program") from None
    except subprocess.TimeoutExpired:
        raise DiscoveryError(
            f"{' '.join(argv)} did not finish within {COLLECT_TIMEOUT_SECONDS} s in {cwd}"
        ) from None


def tail(text: str, lines: int = 40) -> str:
    """The last lines of a collector's output: where runners put the reason they failed."""
    return "\n".join(text.strip().splitlines()[-lines:])
