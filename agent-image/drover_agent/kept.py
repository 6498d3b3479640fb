"""What a worker keeps of its run: the runners' native reports and each scenario's artifacts.

Layout of the kept directory (packed as one ``.tgz`` when ``--reports`` names such a file, so
Argo stores it as a single output artifact and the exit handler can read every worker's)::

    results.json                        the shard's results (as ``--results`` writes them)
    native/<runner report per attempt>  cucumber-messages-a1.ndjson,
                                        playwright-blob-a1-list.zip, ... (none of pytest's)
    artifacts/a<attempt>/<scenario>/    screenshots, traces, videos, attachments, files a
                                        pytest test wrote to $DROVER_ARTIFACTS_DIR

``<scenario>`` is :func:`scenario_slug` of the scenario id. A result names its artifacts by file
name and the directory holding them (``artifact_dir``, relative to the kept directory).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["ARTIFACTS", "NATIVE", "KeptReports", "pack_directory", "scenario_slug"]

NATIVE = "native"
ARTIFACTS = "artifacts"
SLUG_TEXT = 60
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024
"""A single file larger than this is not kept (a runaway video would fill the repository)."""


def scenario_slug(scenario_id: str) -> str:
    """A short, file-system-safe and unique directory name for a scenario id."""
    readable = UNSAFE.sub("-", scenario_id).strip("-.")[-SLUG_TEXT:].strip("-.") or "scenario"
    digest = hashlib.sha1(scenario_id.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


class KeptReports:
    """The kept directory of one worker (see the module's docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.native = self.root / NATIVE
        self.artifacts = self.root / ARTIFACTS
        self.native.mkdir(parents=True, exist_ok=True)
        self.artifacts.mkdir(parents=True, exist_ok=True)

    def artifact_dir(self, scenario_id: str, attempt: int) -> str:
        """Where a scenario attempt's artifacts go, relative to the root (POSIX)."""
        return f"{ARTIFACTS}/a{attempt}/{scenario_slug(scenario_id)}"

    def keep_artifacts(self, scenario_id: str, attempt: int, files: Iterable[str]) -> list[str]:
        """Copy ``files`` (paths the runner reported) beside the scenario attempt; their names.

        A directory is copied whole; a name already taken gets a numbered prefix; a file that
        is gone or too large is left out.
        """
        target = self.root / self.artifact_dir(scenario_id, attempt)
        names: list[str] = []
        for given in dict.fromkeys(files):
            source = Path(given)
            if not source.exists() or _too_large(source):
                continue
            name = _free_name(target, source.name)
            target.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target / name)
            else:
                shutil.copy2(source, target / name)
            names.append(name)
        return names

    def pack(self, archive: Path) -> None:
        """Write the directory as ``archive`` (tar.gz), atomically."""
        pack_directory(self.root, archive)


def pack_directory(directory: Path, archive: Path) -> None:
    """``directory``'s contents as a tar.gz at ``archive``, written atomically."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{archive.name}.", dir=archive.parent)
    os.close(handle)
    try:
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            for entry in sorted(directory.iterdir()):
                tar.add(entry, arcname=entry.name)
        os.replace(partial, archive)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _free_name(directory: Path, name: str) -> str:
    candidate, number = name, 1
    while (directory / candidate).exists():
        number += 1
        candidate = f"{number}-{name}"
    return candidate


def _too_large(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > MAX_ARTIFACT_BYTES
    except OSError:
        return True
