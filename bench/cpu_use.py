"""Where a command's CPU went, machine-wide: every process's user + system time while it ran,
summed by what the process is (pytest sessions, Drover's agents, its CLI and local service,
Postgres, the rest).

``CpuUse`` samples ``/proc/<pid>/stat`` every ``POLL`` seconds from a thread: a process seen
only between two samples is missed (under 50 ms of it at most), one that outlives the
command counts only what it spent meanwhile. Linux only; elsewhere it reports nothing. The
sampling itself costs about 5% of one core (reported as "the benchmark itself").
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

__all__ = ["CpuUse"]

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
KINDS = (
    # (what the command line holds, the name it is counted under), first match wins
    ("-m pytest", "pytest"),
    ("drover-agent", "agents"),
    ("engine.cli.local_service", "Drover service"),
    ("bin/drover ", "Drover CLI"),
    ("postgres", "Postgres"),
)


def _kind(command: str) -> str:
    return next((name for needle, name in KINDS if needle in command), "other")


def _snapshot() -> dict[int, tuple[int, str]]:
    """pid -> (CPU ticks so far, its kind)."""
    found: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        kind = "the benchmark itself" if int(entry) == os.getpid() else _kind(command or stat)
        found[int(entry)] = (int(fields[11]) + int(fields[12]), kind)
    return found


class CpuUse:
    POLL = 0.05

    def __init__(self) -> None:
        self.enabled = os.path.isdir("/proc/self")
        self._start = _snapshot() if self.enabled else {}
        self._last = dict(self._start)
        self._began = time.perf_counter()
        self.wall = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        if self.enabled:
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.POLL):
            self._merge(_snapshot())

    def _merge(self, seen: dict[int, tuple[int, str]]) -> None:
        """Keep a process's kind from when its command line could be read (an exited process
        not reaped yet has none)."""
        for pid, (ticks, kind) in seen.items():
            known = self._last.get(pid)
            self._last[pid] = (ticks, known[1] if known and kind == "other" else kind)

    def stop(self) -> Counter[str]:
        """CPU seconds by kind since the start."""
        self._stop.set()
        if self.enabled:
            self._thread.join()
            self._merge(_snapshot())
        self.wall = time.perf_counter() - self._began
        spent: Counter[str] = Counter()
        for pid, (ticks, kind) in self._last.items():
            before = self._start.get(pid, (0, kind))[0]
            if ticks > before:
                spent[kind] += (ticks - before) / TICKS
        return spent

    @staticmethod
    def describe(spent: Counter[str], wall: float, cores: int) -> str:
        total = sum(spent.values())
        parts = ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in spent.most_common())
        busy = total / (wall * cores) if wall else 0.0
        return f"CPU {total:.1f} s in {wall:.1f} s on {cores} cores ({busy:.0%} busy): {parts}"
