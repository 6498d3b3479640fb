"""The CPUs this process may run on: its affinity mask, lowered by a cgroup CPU quota (a
container's ``--cpus``). Sizes the local node (``engine.backends.local.machine``) and how many
pytest processes discovery starts."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["process_cpus"]


def process_cpus() -> float:
    """Cores, possibly fractional under a quota; at least the quota, however small."""
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = float(os.cpu_count() or 1)
    quota = _cgroup_cpus()
    return min(cores, quota) if quota is not None else cores


def _cgroup_cpus() -> float | None:
    """This process's cgroup CPU quota in cores (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``);
    None without one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        with contextlib.suppress(OSError, ValueError):
            if controllers == "":
                quota, period = Path("/sys/fs/cgroup", relative, "cpu.max").read_text().split()
                if quota != "max":
                    return int(quota) / int(period)
            elif "cpu" in controllers.split(","):
                directory = Path("/sys/fs/cgroup", controllers, relative)
                quota_us = int((directory / "cpu.cfs_quota_us").read_text())
                if quota_us > 0:
                    return quota_us / int((directory / "cpu.cfs_period_us").read_text())
    return None
