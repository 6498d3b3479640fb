"""The real cucumber-js and Playwright fixture projects under ``data/``, and how tests use them.

Each project pins its tool in ``package.json`` and ``package-lock.json``; ``.ci/setup`` installs
their ``node_modules`` with ``npm ci``. Tests work on a copy in their own temporary directory
(the tools write reports and ``test-results/`` next to the project), whose ``node_modules`` is a
link to the installed one, and skip, saying why, when node or the installation is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().with_name("data")
CUCUMBER_JS = DATA / "cucumber-js"
PLAYWRIGHT = DATA / "playwright"

BINARIES = {CUCUMBER_JS: "cucumber-js", PLAYWRIGHT: "playwright"}


def require_installed(project: Path) -> None:
    """Skip the calling test unless node and the project's pinned tool are installed."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed; the cucumber-js and Playwright tests need Node.js")
    binary = project / "node_modules" / ".bin" / BINARIES[project]
    if not binary.exists():
        pytest.skip(
            f"{binary.relative_to(DATA.parent)} is missing: run .ci/setup "
            f"(npm ci in {project.relative_to(DATA.parent)})"
        )


def copy_project(project: Path, destination: Path) -> Path:
    """A working copy of ``project`` at ``destination``, sharing its ``node_modules``."""
    require_installed(project)
    shutil.copytree(
        project, destination, ignore=shutil.ignore_patterns("node_modules", "test-results")
    )
    (destination / "node_modules").symlink_to(project / "node_modules", target_is_directory=True)
    return destination
