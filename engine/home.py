"""Where Drover keeps its state on this machine: the local runner's workflows and workspaces,
the embedded Postgres, the service's token."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_home"]


def default_home() -> Path:
    """``$DROVER_HOME``; else ``/var/lib/drover`` as root, ``~/.drover`` otherwise.

    As root the embedded Postgres runs as a system user that must traverse the data directory,
    which root's home does not allow. The service's settings use this same default.
    """
    if os.environ.get("DROVER_HOME"):
        return Path(os.environ["DROVER_HOME"])
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/drover")
    return Path.home() / ".drover"
