"""Prepare the workspace: copy a local project or clone a git repository, run setup commands.

In artifact workspace mode, setup packs the prepared workspace as a tar.gz that each worker
unpacks, for clusters without ReadWriteMany volumes.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from drover_agent.plan import ProjectSource, SetupCommand

__all__ = [
    "SetupError",
    "checkout_project",
    "pack_workspace",
    "run_setup_commands",
    "setup_argv",
    "unpack_workspace",
]

# Caches a copy should not carry over: they belong to the machine that made them.
COPY_IGNORED = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")


class SetupError(Exception):
    """Preparing the workspace failed; ``exit_code`` is what the agent exits with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def checkout_project(project: ProjectSource, workspace: Path, env: Mapping[str, str]) -> None:
    """Put the project's files into ``workspace``: a copy of ``path`` or a clone of ``repo``."""
    if project.path:
        _copy_directory(Path(project.path), workspace)
    elif project.repo:
        _clone(project.repo, project.ref, workspace, env)
    else:
        raise SetupError("run.json project: set 'repo' (a git URL) or 'path' (a directory)")


def _copy_directory(source: Path, workspace: Path) -> None:
    if not source.is_dir():
        raise SetupError(f"project path {source} is not a directory")
    source, target = source.resolve(), workspace.resolve()
    if source == target:
        return  # the workspace is the project itself: nothing to copy
    ignore_caches = shutil.ignore_patterns(*COPY_IGNORED)

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(ignore_caches(directory, names))
        # A workspace inside the project must not be copied into itself.
        skipped.update(n for n in names if Path(directory, n).resolve() == target)
        return skipped

    print(f"drover-agent: copying {source} to {target}", flush=True)
    shutil.copytree(source, target, symlinks=True, ignore=ignore, dirs_exist_ok=True)


def _clone(repo: str, ref: str, workspace: Path, env: Mapping[str, str]) -> None:
    if (workspace / ".git").is_dir():
        # A retried setup on a kept volume: refresh the clone instead of starting over.
        _git(["git", "-C", str(workspace), "fetch", "--quiet", "--tags", "origin"], env)
    elif workspace.exists() and any(workspace.iterdir()):
        raise SetupError(f"workspace {workspace} is not empty and holds no git clone")
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
