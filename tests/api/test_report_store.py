"""The service's report store unpacks only what stays inside a run's directory."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from api.runs.report_store import ReportStore, ReportStoreError


def archive(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def test_a_workers_reports_and_artifacts_are_found_by_their_result(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    size = store.store_worker("run1", "pod-1", archive({"artifacts/a1/s-1/shot.png": b"png"}))
    assert size == 3
    found = store.artifact("run1", "pod-1", "artifacts/a1/s-1", "shot.png")
    assert found is not None and found.read_bytes() == b"png"
    assert store.artifact("run1", None, "artifacts/a1/s-1", "shot.png") == found
    assert store.artifact("run1", "pod-1", "artifacts/a1/s-1", "../../../etc/passwd") is None
    # An absolute name is unpacked inside the directory (tarfile's data filter drops the '/').
    store.store_run("run1", archive({"/abs.txt": b"x"}))
    assert store.run_file("run1", "abs.txt") is not None
    assert store.remove("run1") == 4 and not (tmp_path / "run1").exists()


@pytest.mark.parametrize(
    ("members", "links"),
    [({"../escape.txt": b"x"}, None), ({}, {"out": "/etc/passwd"})],
    ids=["dot-dot", "link-out"],
)
def test_unsafe_archives_are_refused(
    tmp_path: Path, members: dict[str, bytes], links: dict[str, str] | None
) -> None:
    store = ReportStore(tmp_path / "reports")
    with pytest.raises(ReportStoreError):
        store.store_run("run1", archive(members, links))
    assert not (tmp_path / "escape.txt").exists()
    with pytest.raises(ValueError, match="not a run id"):
        store.run_dir("../x")
