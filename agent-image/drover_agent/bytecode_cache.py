"""A project's Python bytecode, kept from one run to the next.

A worker's workspace is new in every run, so whatever its pytest compiles (the project's
modules, and the test modules whose asserts pytest rewrites) would be compiled again by every
worker of every run: about a second a worker for babel's 80 test modules. Where the pod is
given a cache directory (``DROVER_BYTECODE_CACHE``: the local runner's sandbox binds one into
every pod), setup-env makes each ``__pycache__`` of a copied project a link into that
directory, under one directory per project (by the project's path: a clone's files are new in
every run, so a cache could never serve them), and the workers write bytecode there, even
where ``PYTHONDONTWRITEBYTECODE`` is set: that setting keeps ``__pycache__`` out of source
trees, and nothing goes into the project's tree. Python, and pytest for its rewritten modules,
checks a cached file against its source's modification time and size, which the copy keeps,
as it checks any ``__pycache__``. Only the project's files are cached this way: installed
packages keep their own ``__pycache__`` (``PYTHONPYCACHEPREFIX`` would have every worker
compile them again into the cache first).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["BYTECODE_CACHE_ENV", "bytecode_env", "link_bytecode_cache"]

BYTECODE_CACHE_ENV = "DROVER_BYTECODE_CACHE"
PYCACHE = "__pycache__"
NOT_SEARCHED = frozenset({PYCACHE, ".git", ".hg", ".svn", "node_modules"})


def link_bytecode_cache(project_path: str, workspace: Path, env: Mapping[str, str]) -> bool:
    """Link the ``__pycache__`` of every directory of ``workspace`` holding Python files (and of
    the workspace itself) into the project's cache directory; False where no cache is given."""
    root = env.get(BYTECODE_CACHE_ENV, "")
    if not root or not os.access(root, os.W_OK):
        return False
    key = hashlib.sha256(os.path.realpath(project_path).encode()).hexdigest()[:16]
    cache = Path(root) / key
    for directory, subdirectories, files in os.walk(workspace):
        subdirectories[:] = [d for d in subdirectories if d not in NOT_SEARCHED]
        here = Path(directory)
        if here == workspace or any(f.endswith(".py") for f in files):
            target = cache / here.relative_to(workspace)
            target.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # a setup retried on a kept volume
                (here / PYCACHE).symlink_to(target, target_is_directory=True)
    return True


def bytecode_env(env: Mapping[str, str], workspace: Path) -> dict[str, str]:
    """``env`` for the project's processes: bytecode written where setup-env linked the
    workspace's ``__pycache__`` into the cache (a ``PYTHONPYCACHEPREFIX`` of the environment's
    own would bypass the links, and stands)."""
    linked = (workspace / PYCACHE).is_symlink() and "PYTHONPYCACHEPREFIX" not in env
    return {k: v for k, v in env.items() if not (linked and k == "PYTHONDONTWRITEBYTECODE")}
