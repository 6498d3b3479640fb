"""Prepare the workspace: copy a local project or clone a git repository, run setup commands.

In artifact workspace mode, setup packs the prepared workspace as a tar.gz that each worker
unpacks, for clusters without ReadWriteMany volumes.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from drover_agent.bytecode_cache import PYCACHE, link_bytecode_cache
from drover_agent.plan import ProjectSource, SetupCommand

__all__ = [
    "READY_MARKER",
    "STEAL_BOARDS",
    "SetupError",
    "checkout_project",
    "mark_ready",
    "pack_workspace",
    "prepare_if_missing",
    "run_setup_commands",
    "setup_argv",
    "unpack_workspace",
]

# Caches a copy should not carry over: they belong to the machine that made them.
COPY_IGNORED = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
READY_MARKER = ".drover-ready"
"""Written into the workspace once setup succeeded; a worker that finds none prepares it."""
SETUP_LOCK = ".drover-setup.lock"
STEAL_BOARDS = ".drover-steal"
"""Where the workers of a group share their steal boards (:mod:`drover_agent.stealing`)."""
NOT_THE_PROJECT = frozenset({"lost+found", READY_MARKER, SETUP_LOCK, STEAL_BOARDS})
"""Entries a fresh or shared volume holds that are not the project: ext4 formats every new
volume with ``lost+found``; the lock, marker and boards are Drover's own."""


class SetupError(Exception):
    """Preparing the workspace failed; ``exit_code`` is what the agent exits with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def checkout_project(project: ProjectSource, workspace: Path, env: Mapping[str, str]) -> None:
    """Put the project's files into ``workspace``: a copy of ``path`` or a clone of ``repo``."""
    if project.path:
        if _copy_directory(Path(project.path), workspace):
            link_bytecode_cache(project.path, workspace, env)
    elif project.repo:
        _clone(project.repo, project.ref, workspace, env)
    else:
        raise SetupError("run.json project: set 'repo' (a git URL) or 'path' (a directory)")


def _copy_directory(source: Path, workspace: Path) -> bool:
    """Copy the project into the workspace; False where the workspace is the project."""
    if not source.is_dir():
        raise SetupError(f"project path {source} is not a directory")
    source, target = source.resolve(), workspace.resolve()
    if source == target:
        return False
    print(f"drover-agent: copying {source} to {target}", flush=True)
    # tar copies a tree several times faster than copying file by file in Python (babel's
    # 1,269 files: 0.05 against 0.15 s); a workspace inside the project needs the walk below.
    if target.is_relative_to(source) or not _tar_copy(source, target):
        _python_copy(source, target)
    return True


def _tar_copy(source: Path, target: Path) -> bool:
    """``tar`` piped into ``tar``: links as links, modes and times (nanoseconds, with the POSIX
    format) kept, as ``copytree`` keeps them; False when there is no tar, or it failed (then
    the caller copies file by file, over what it copied)."""
    tar = shutil.which("tar")
    if tar is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    excluded = [f"--exclude={name}" for name in COPY_IGNORED]
    pack = [tar, "-C", str(source), "--format=posix", *excluded, "-cf", "-", "."]
    unpack = [tar, "-C", str(target), "--no-same-owner", "-xpf", "-"]
    with subprocess.Popen(pack, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) as packing:
        assert packing.stdout is not None
        with subprocess.Popen(unpack, stdin=packing.stdout) as unpacking:
            packing.stdout.close()  # only the unpacking tar reads: if it ends, packing ends
    return packing.returncode == 0 and unpacking.returncode == 0


def _python_copy(source: Path, target: Path) -> None:
    ignore_caches = shutil.ignore_patterns(*COPY_IGNORED)

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(ignore_caches(directory, names))
        # A workspace inside the project must not be copied into itself. Links are copied as
        # links, never entered, so only the real directory above the workspace holds it.
        if target.name in names and os.path.realpath(directory) == str(target.parent):
            skipped.add(target.name)
        return skipped

    shutil.copytree(source, target, symlinks=True, ignore=ignore, dirs_exist_ok=True)


def _clone(repo: str, ref: str, workspace: Path, env: Mapping[str, str]) -> None:
    present = {p.name for p in workspace.iterdir()} if workspace.exists() else set()
    if (workspace / ".git").is_dir():
        # A retried setup on a kept volume: refresh the clone instead of starting over.
        _git(["git", "-C", str(workspace), "fetch", "--quiet", "--tags", "origin"], env)
    elif present - NOT_THE_PROJECT:
        raise SetupError(
            f"workspace {workspace} is not empty and holds no git clone: "
            f"{', '.join(sorted(present - NOT_THE_PROJECT)[:5])}"
        )
    elif present:
        # git clones only into an empty directory: clone beside, then move the clone in.
        staging = workspace / ".drover-clone"
        shutil.rmtree(staging, ignore_errors=True)
        _git(["git", "clone", "--quiet", "--no-checkout", "--", repo, str(staging)], env)
        (staging / ".git").rename(workspace / ".git")
        staging.rmdir()
        _git(["git", "-C", str(workspace), "reset", "--quiet", "--hard"], env)
    else:
        _git(["git", "clone", "--quiet", "--", repo, str(workspace)], env)
    if ref != "HEAD":
        _git(["git", "-C", str(workspace), "-c", "advice.detachedHead=false", "checkout",
              "--quiet", ref, "--"], env)  # fmt: skip


def _git(argv: list[str], env: Mapping[str, str]) -> None:
    print(f"drover-agent: $ {' '.join(argv)}", flush=True)
    try:
        code = subprocess.run(argv, env=dict(env), stdin=subprocess.DEVNULL, check=False).returncode
    except FileNotFoundError:
        raise SetupError("git is not installed in this image") from None
    if code != 0:
        raise SetupError(f"{' '.join(argv[:4])} ... failed with exit code {code}", code)


def setup_argv(command: SetupCommand) -> list[str]:
    """A string is the user's own shell snippet, run by ``sh -c``; a list is an argument list."""
    return ["sh", "-c", command] if isinstance(command, str) else list(command)


def run_setup_commands(
    commands: Sequence[SetupCommand], workspace: Path, env: Mapping[str, str]
) -> None:
    """Run each command in the workspace, output streamed; stop at the first that fails."""
    for number, command in enumerate(commands, start=1):
        argv = setup_argv(command)
        print(f"drover-agent: setup [{number}/{len(commands)}] $ {_shown(command)}", flush=True)
        try:
            code = subprocess.run(
                argv, cwd=workspace, env=dict(env), stdin=subprocess.DEVNULL, check=False
            ).returncode
        except OSError as exc:
            raise SetupError(f"setup command {number} cannot start: {exc}", 127) from None
        if code != 0:
            raise SetupError(f"setup command {number} failed with exit code {code}", code)


def mark_ready(workspace: Path) -> None:
    """Record that ``workspace`` is prepared (kept out of ``git status`` of a clone, with the
    links to the bytecode cache, which a ``__pycache__/`` pattern does not match)."""
    (workspace / READY_MARKER).write_text("setup-env succeeded\n")
    exclude = workspace / ".git" / "info" / "exclude"
    if exclude.parent.is_dir():
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        ours = [f"/{n}" for n in (READY_MARKER, SETUP_LOCK, STEAL_BOARDS)] + [PYCACHE]
        missing = [n for n in ours if n not in lines]
        if missing:
            exclude.write_text("\n".join([*lines, *missing]) + "\n")


def prepare_if_missing(
    project: ProjectSource, workspace: Path, env: Mapping[str, str]
) -> bool:
    """Prepare a shared workspace that lacks the ready marker; True if this worker did.

    A workflow resubmitted with ``--memoized`` keeps ``setup-env`` as Skipped but gets a new,
    empty claim (Argo's ``FormulateResubmitWorkflow``, workflow/util/util.go, renames the
    workflow and the claim is ``<workflow>-workspace``), so its workers would find nothing.
    The first worker to take the lock prepares it as setup-env would; the others wait for the
    lock and find the marker. ``flock`` is released by the kernel if the pod dies.
    """
    if (workspace / READY_MARKER).exists():
        return False
    workspace.mkdir(parents=True, exist_ok=True)
    with (workspace / SETUP_LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (workspace / READY_MARKER).exists():
            return False
        print(
            f"drover-agent: {workspace} was never prepared (a new volume: the workflow was "
            "resubmitted or its claim was deleted); preparing it as setup-env does",
            flush=True,
        )
        checkout_project(project, workspace, env)
        run_setup_commands(project.setup, workspace, env)
        mark_ready(workspace)
        return True


def _shown(command: SetupCommand) -> str:
    return command if isinstance(command, str) else " ".join(command)


def pack_workspace(workspace: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(workspace, arcname=".")
    print(f"drover-agent: packed {workspace} into {archive} ({archive.stat().st_size} bytes)")


def unpack_workspace(archive: Path, workspace: Path) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        # Our own archive: keep symlinks as they are (virtualenvs point outside), but never
        # write outside the workspace.
        tar.extractall(workspace, filter="tar")
    print(f"drover-agent: unpacked {archive} into {workspace}", flush=True)
