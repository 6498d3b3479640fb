"""Where the service keeps runs' reports and artifacts: ``$DROVER_HOME/reports/<run id>/``.

::

    workers/<pod>/   each worker pod's kept reports (``drover_agent.kept``: results.json,
                     native/, artifacts/a<attempt>/<scenario>/), from its ``reports`` artifact
    run/             the run's merged reports (``drover_agent.merge``: junit.xml,
                     playwright/, cucumber/, index.json), from the exit handler's

Archives are unpacked with tarfile's ``data`` filter (no absolute paths, no ``..``, no links
out, no devices); every path asked for is resolved and must stay inside its directory.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

__all__ = ["REPORT_KINDS", "ReportStore", "ReportStoreError", "directory_size"]

REPORT_KINDS = ("playwright", "cucumber")
"""The HTML reports served as static sites (``/runs/{id}/reports/{kind}/``)."""
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,253}$")


class ReportStoreError(Exception):
    """An archive that cannot be unpacked (not a tar.gz, or unsafe members)."""


class ReportStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run_dir(self, run_id: str) -> Path:
        if not SAFE_NAME.fullmatch(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.root / run_id

    def store_worker(self, run_id: str, pod: str, archive: bytes) -> int:
        """Unpack a worker pod's kept reports; the bytes they take."""
        if not SAFE_NAME.fullmatch(pod):
            raise ValueError(f"not a pod name: {pod!r}")
        return _unpack(archive, self.run_dir(run_id) / "workers" / pod)

    def store_run(self, run_id: str, archive: bytes) -> tuple[dict[str, Any], int]:
        """Unpack the run's merged reports; their index (``index.json``) and size."""
        target = self.run_dir(run_id) / "run"
        size = _unpack(archive, target)
        try:
            index = json.loads((target / "index.json").read_text("utf-8"))
        except (OSError, ValueError):
            index = {}
        reports = index.get("reports") if isinstance(index, dict) else None
        problems = index.get("problems") if isinstance(index, dict) else None
        return {
            "reports": reports if isinstance(reports, dict) else {},
            "problems": problems if isinstance(problems, list) else [],
        }, size

    def run_file(self, run_id: str, relative: str) -> Path | None:
        """A file of the run's merged reports (``junit.xml``, ``playwright/index.html`` ...)."""
        return _inside(self.run_dir(run_id) / "run", relative)

    def artifact(
        self, run_id: str, worker: str | None, artifact_dir: str, name: str
    ) -> Path | None:
        """An artifact of a result: ``workers/<worker>/<artifact_dir>/<name>``; a result whose
        worker is unknown is looked for under every worker."""
        workers = self.run_dir(run_id) / "workers"
        candidates = [worker] if worker and SAFE_NAME.fullmatch(worker) else []
        if not candidates and workers.is_dir():
            candidates = sorted(p.name for p in workers.iterdir())
        for candidate in candidates:
            found = _inside(workers / candidate, f"{artifact_dir}/{name}")
            if found is not None:
                return found
        return None

    def size(self, run_id: str) -> int:
        return _size(self.run_dir(run_id))

    def remove(self, run_id: str) -> int:
        """Delete everything kept for the run; the bytes freed."""
        directory = self.run_dir(run_id)
        freed = _size(directory)
        shutil.rmtree(directory, ignore_errors=True)
        return freed


def _unpack(archive: bytes, target: Path) -> int:
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(partial, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ReportStoreError(f"cannot unpack the reports archive: {error}") from error
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return _size(target)


def _inside(directory: Path, relative: str) -> Path | None:
    """``directory/relative`` if it is a file that stays inside ``directory``."""
    if not relative or "\x00" in relative:
        return None
    base = directory.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def directory_size(directory: Path) -> int:
    """Bytes of the files under ``directory`` (0 when it does not exist)."""
    return _size(directory)


def _size(directory: Path) -> int:
    total = 0
    for folder, _, files in os.walk(directory):
        for name in files:
            try:
                total += (Path(folder) / name).stat().st_size
            except OSError:
                continue
    return total
