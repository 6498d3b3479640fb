"""Where the local runner keeps a workflow's claims: in memory when they fit, else on disk.

A claim made from ``volumeClaimTemplates`` (Drover's workspace) is a directory; which medium
backs it is the provisioner's business, as a storage class decides it on a cluster. Creating a
file costs ~0.5 ms of CPU on the ext4 disks of the machines this runs on, and setup-env creates
one per file of the project (1,113 for tomlkit: 0.5 s before any test runs), where a tmpfs
creates them in microseconds. So a claim whose requested ``storage`` is at most half of what
``/dev/shm`` has free lives there, under a directory of the user's own (mode 0700), and the
claim's directory in the store is a symbolic link to it. ``DROVER_LOCAL_CLAIM_MEDIUM=disk``
keeps every claim on disk.

A memory-backed claim goes when its claim is deleted (``volumeClaimGC``) or its workflow is,
like any claim; one kept for a retry (a failed workflow's, under ``OnWorkflowSuccess``) stays in
memory until then, and a machine's restart empties it, as a deleted claim would be empty (Argo's
``createPVCs`` makes a new one). Memory roots whose Drover home is gone are swept.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import Any, Final

from engine.backends.local.machine import QuantityError, parse_quantity_milli

__all__ = ["MEDIUM_ENV", "MemoryClaims"]

MEDIUM_ENV: Final = "DROVER_LOCAL_CLAIM_MEDIUM"
TMPFS: Final = Path("/dev/shm")
HOME_MARKER: Final = "home"
"""The Drover home (``LocalStore.root``) a memory root belongs to, written in it."""


def requested_bytes(claim_template: dict[str, Any]) -> int | None:
    """The claim's ``spec.resources.requests.storage`` in bytes; None when absent or bad."""
    spec = claim_template.get("spec") or {}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage in (None, ""):
        return None
    try:
        return -(-parse_quantity_milli(storage) // 1000)
    except QuantityError:
        return None


class MemoryClaims:
    """The memory root of one store (``/dev/shm/drover-<uid>/<store key>``), when usable."""

    def __init__(self, store_root: Path, tmpfs: Path = TMPFS) -> None:
        self.store_root = store_root
        self.user_dir = tmpfs / f"drover-{os.getuid()}"
        key = hashlib.sha256(str(store_root.resolve()).encode()).hexdigest()[:16]
        self.root = self.user_dir / key

    def workflow_dir(self, name: str) -> Path:
        return self.root / "workflows" / name

    def place(self, link: Path, name: str, template: dict[str, Any]) -> bool:
        """Make the claim ``link`` (its directory in the store) a link to a directory in memory,
        if the claim fits there; False when it is to be a directory on disk."""
        request = requested_bytes(template)
        if os.environ.get(MEDIUM_ENV, "auto") == "disk" or request is None:
            return False
        if not self._usable() or request > self._free_bytes() // 2:
            return False
        target = self.workflow_dir(name) / "volumes" / link.name
        target.mkdir(parents=True, exist_ok=True)
        link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another pod of the workflow made it
            link.symlink_to(target, target_is_directory=True)
        return True

    def restore(self, link: Path) -> None:
        """A claim kept in memory that a restart emptied: empty again, as a new claim is."""
        target = Path(os.readlink(link))
        if self.owns(target):
            target.mkdir(parents=True, exist_ok=True)

    def owns(self, path: Path) -> bool:
        return path.is_relative_to(self.root)

    def free(self, link: Path) -> None:
        """Remove a claim's link and the memory it points to."""
        with contextlib.suppress(OSError):
            target = Path(os.readlink(link))
            if self.owns(target):
                shutil.rmtree(target, ignore_errors=True)
                target.parent.rmdir()  # the workflow's volumes/, then the workflow's own,
                target.parent.parent.rmdir()  # once they hold no other claim
        with contextlib.suppress(FileNotFoundError):
            link.unlink()

    def delete_workflow(self, name: str) -> None:
        shutil.rmtree(self.workflow_dir(name), ignore_errors=True)

    def sweep(self) -> None:
        """Free the memory roots of Drover homes that no longer exist."""
        with contextlib.suppress(OSError):
            for root in self.user_dir.iterdir():
                with contextlib.suppress(OSError):
                    home = Path((root / HOME_MARKER).read_text(encoding="utf-8"))
                    if not home.exists():
                        shutil.rmtree(root, ignore_errors=True)

    def _usable(self) -> bool:
        """The user's directory is there (made now, 0700), owned by the user and no link."""
        try:
            self.user_dir.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(self.user_dir)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                return False
            if stat.S_IMODE(info.st_mode) & 0o077:
                return False
            if not self.root.is_dir():
                self.root.mkdir()
                (self.root / HOME_MARKER).write_text(str(self.store_root), encoding="utf-8")
        except OSError:
            return False
        return True

    def _free_bytes(self) -> int:
        try:
            usage = os.statvfs(self.root)
        except OSError:
            return 0
        return usage.f_bavail * usage.f_frsize
