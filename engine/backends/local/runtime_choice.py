"""Which runtime runs the local runner's pods, settled by name before anything starts.

``drover run --runtime`` is checked with it before the run is handed on, so it imports nothing
of the runner's (:mod:`engine.backends.local.runtime` builds the chosen runtime).
"""

from __future__ import annotations

import os
import shutil

from engine.errors import Unsupported

__all__ = ["RUNTIME_NAMES", "runtime_choice"]

RUNTIME_NAMES = ("sandbox", "process", "docker")
RUNTIME_VARIABLE = "DROVER_LOCAL_RUNTIME"


def runtime_choice(name: str | None = None) -> str:
    """``name``, else ``$DROVER_LOCAL_RUNTIME``, else the sandbox where bubblewrap is installed
    and plain processes elsewhere; Unsupported for an unknown name or a runtime this machine
    cannot run."""
    chosen = name or os.environ.get(RUNTIME_VARIABLE)
    if not chosen:
        return "sandbox" if shutil.which("bwrap") else "process"
    if chosen not in RUNTIME_NAMES:
        raise Unsupported(f"unknown local runtime '{chosen}' (sandbox, process or docker)")
    if chosen == "sandbox" and shutil.which("bwrap") is None:
        raise Unsupported("the sandbox runtime needs bubblewrap (apt-get install bubblewrap)")
    return chosen
