"""A workflow's claims kept in memory when they fit (``engine.backends.local.memory_claims``):
the claim's directory in the store links to ``/dev/shm``, and the memory goes with the claim
(``volumeClaimGC``) or the workflow."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local.memory_claims import MEDIUM_ENV, TMPFS, MemoryClaims
from engine.backends.local.store import LocalStore

pytestmark = pytest.mark.skipif(not TMPFS.is_dir(), reason="no /dev/shm on this machine")


def claim_template(storage: str | None = "1Gi") -> dict[str, Any]:
    spec = {"resources": {"requests": {"storage": storage}}} if storage else {}
    return {"metadata": {"name": "workspace"}, "spec": spec}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    store = LocalStore(tmp_path / "home")
    yield store
    shutil.rmtree(store.memory.root, ignore_errors=True)


def test_a_claim_that_fits_lives_in_memory_and_goes_with_its_workflow(store: LocalStore) -> None:
    claim = store.make_claim("wf-a", claim_template())
    assert claim.is_symlink() and Path(os.readlink(claim)).is_relative_to(TMPFS)
    (claim / "file.txt").write_text("in memory")
    assert store.make_claim("wf-a", claim_template()) == claim  # made once: a retry reuses it
    assert (claim / "file.txt").read_text() == "in memory"
    target = Path(os.readlink(claim))
    store.delete("wf-a")
    assert not claim.is_symlink() and not target.exists()


def test_a_discarded_claim_is_moved_aside_then_its_memory_freed(store: LocalStore) -> None:
    claim = store.make_claim("wf-b", claim_template())
    target = Path(os.readlink(claim))
    (claim / "file.txt").write_text("x")
    store.discard(claim)
    assert not claim.is_symlink() and target.exists()  # gone from the workflow, not yet freed
    store.free_discarded()
    assert not target.exists() and not any((store.root / "discarded").iterdir())
    assert not store.memory.workflow_dir("wf-b").exists()


def test_claims_stay_on_disk_when_asked_or_too_large_or_without_a_request(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not store.make_claim("wf-c", claim_template("100Ei")).is_symlink()
    assert not store.make_claim("wf-d", claim_template(None)).is_symlink()
    monkeypatch.setenv(MEDIUM_ENV, "disk")
    claim = store.make_claim("wf-e", claim_template())
    assert claim.is_dir() and not claim.is_symlink()


def test_a_claim_a_restart_emptied_is_an_empty_claim_again(store: LocalStore) -> None:
    claim = store.make_claim("wf-f", claim_template())
    shutil.rmtree(os.readlink(claim))  # what a restart does to /dev/shm
    assert store.make_claim("wf-f", claim_template()) == claim
    assert claim.is_dir() and not any(claim.iterdir())


def test_memory_of_a_home_that_is_gone_is_swept(tmp_path: Path) -> None:
    gone = LocalStore(tmp_path / "gone-home")
    gone.make_claim("wf-g", claim_template())
    shutil.rmtree(tmp_path / "gone-home")
    kept = LocalStore(tmp_path / "home")
    kept.make_claim("wf-h", claim_template())
    kept.free_discarded()
    assert not gone.memory.root.exists() and kept.memory.root.exists()
    shutil.rmtree(kept.memory.root)


def test_a_users_directory_others_can_open_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "tmpfs"
    shared.mkdir()
    memory = MemoryClaims(tmp_path / "home", tmpfs=shared)
    memory.user_dir.mkdir(mode=0o755)
    memory.user_dir.chmod(0o755)
    link = tmp_path / "home" / "workflows" / "wf" / "volumes" / "workspace"
    assert not memory.place(link, "wf", claim_template())
    assert not link.exists()
