"""``git`` input artifacts, as Argo's git artifact driver loads them (workflow/artifacts/git/git.go,
``ArtifactDriver.Load``), from real repositories on this machine (``file://`` URLs)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from tests.local.conftest import shell_template, stdout_of, workflow_manifest


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _repository(path: Path, commits: list[dict[str, str]], branch: str = "main") -> list[str]:
    """A repository at ``path`` whose ``branch`` holds ``commits`` (file contents); their hashes."""
    path.mkdir(parents=True)
    _git(path, "init", "--quiet", "--initial-branch", branch)
    hashes = []
    for files in commits:
        for name, text in files.items():
            (path / name).write_text(text)
        _git(path, "add", "--all")
        _git(path, "commit", "--quiet", "--message", "change")
        hashes.append(_git(path, "rev-parse", "HEAD"))
    return hashes


def _reader(script: str, **git: Any) -> dict[str, Any]:
    template = shell_template("main", script)
    template["inputs"] = {"artifacts": [{"name": "src", "path": "/src", "git": git}]}
    return workflow_manifest([template])


def _pod(done: dict[str, Any]) -> dict[str, Any]:
    (pod,) = done["status"]["nodes"].values()
    return pod


@pytest.fixture
def repo(tmp_path: Path) -> tuple[str, list[str]]:
    """A repository with two commits on ``main`` and a branch ``feature`` after them."""
    path = tmp_path / "repo"
    hashes = _repository(path, [{"README": "first\n"}, {"README": "second\n"}])
    _git(path, "checkout", "--quiet", "-b", "feature")
    (path / "FEATURE").write_text("feature\n")
    _git(path, "add", "--all")
    _git(path, "commit", "--quiet", "--message", "feature")
    _git(path, "checkout", "--quiet", "main")
    return f"file://{path}", hashes


def test_the_default_branch_is_cloned_to_the_path(
    backend: LocalBackend, repo: tuple[str, list[str]]
) -> None:
    url, _ = repo
    done = backend.run(_reader("cat /src/README; ls /src", repo=url))
    assert done["status"]["phase"] == "Succeeded", _pod(done).get("message")
    assert stdout_of(backend, _pod(done)) == "second\nREADME"


def test_a_revision_is_checked_out_a_commit_or_a_branch(
    backend: LocalBackend, repo: tuple[str, list[str]]
) -> None:
    url, hashes = repo
    by_hash = backend.run(_reader("cat /src/README", repo=url, revision=hashes[0][:10]))
    assert stdout_of(backend, _pod(by_hash)) == "first"
    by_branch = backend.run(_reader("cat /src/FEATURE", repo=url, revision="feature"))
    assert stdout_of(backend, _pod(by_branch)) == "feature"


def test_depth_and_a_single_branch_limit_what_is_fetched(
    backend: LocalBackend, repo: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = repo
    script = "cd /src && git rev-list --count HEAD && git branch -r | wc -l"
    shallow = backend.run(_reader(script, repo=url, depth=1))
    assert stdout_of(backend, _pod(shallow)).split() == ["1", "3"]  # HEAD, main and feature
    single = backend.run(_reader(script, repo=url, singleBranch=True, branch="feature"))
    assert stdout_of(backend, _pod(single)).split() == ["3", "1"]


def test_single_branch_without_a_branch_fails_the_pod_with_argos_message(
    backend: LocalBackend, repo: tuple[str, list[str]]
) -> None:
    url, _ = repo
    pod = _pod(backend.run(_reader("true", repo=url, singleBranch=True)))
    assert pod["phase"] == "Error"
    assert pod["message"] == (
        "inputs.artifacts.src: artifact failed to load: "
        "single branch mode without a branch specified"
    )


def test_an_empty_repository_is_kept_as_cloned(backend: LocalBackend, tmp_path: Path) -> None:
    """go-git's ErrEmptyRemoteRepository: Argo initialises the repository and stops there, the
    revision left unresolved."""
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "--quiet", "--bare")
    done = backend.run(_reader("ls -A /src", repo=f"file://{empty}", revision="v1"))
    assert done["status"]["phase"] == "Succeeded", _pod(done).get("message")
    assert stdout_of(backend, _pod(done)) == ".git"


def test_a_repository_that_cannot_be_cloned_names_it(backend: LocalBackend, tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'absent'}"
    pod = _pod(backend.run(_reader("true", repo=url)))
    assert pod["phase"] == "Error"
    assert pod["message"].startswith(
        f'inputs.artifacts.src: artifact failed to load: failed to clone "{url}": '
    )


def test_submodules_are_cloned_unless_disabled(
    backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """go-git updates submodules recursively after the checkout; git itself refuses file://
    submodules unless allowed (a safeguard go-git does not have), which this test allows."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "protocol.file.allow")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "always")
    _repository(tmp_path / "inner", [{"INNER": "inner\n"}])
    outer = tmp_path / "outer"
    _repository(outer, [{"README": "outer\n"}])
    _git(outer, "submodule", "--quiet", "add", f"file://{tmp_path / 'inner'}", "inner")
    _git(outer, "commit", "--quiet", "--message", "submodule")
    script = "cat /src/inner/INNER 2>/dev/null || echo none"
    with_modules = backend.run(_reader(script, repo=f"file://{outer}"))
    assert stdout_of(backend, _pod(with_modules)) == "inner"
    without = backend.run(_reader(script, repo=f"file://{outer}", disableSubmodules=True))
    assert stdout_of(backend, _pod(without)) == "none"
