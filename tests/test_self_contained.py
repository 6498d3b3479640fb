"""The repository is self-contained: no tracked file points at a sibling folder of the clone or
at an absolute path of the machine it was written on (the Argo reference data lives in
``tests/argo_reference/``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The sibling folder "shared" reached from the clone, and absolute paths into the development
# machine's /work workspace (the checkout, the shared folder, hidden folders). Container paths
# such as /work/out.txt in Argo's example workflows are fine.
OUTSIDE = re.compile(rb"\.\./shared\b|/work/(?:main|shared|\.)")
# Not sources: vendored, generated or caches (as in .gitignore), for the walk without git.
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
}


def _repository_files() -> list[Path]:
    """Tracked files (every file when git is unavailable), relative to the repository root."""
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        paths = [Path(name) for name in listed.decode().split("\0") if name]
    else:
        paths = [path.relative_to(ROOT) for path in ROOT.rglob("*")]
    return [
        path
        for path in paths
        if (ROOT / path).is_file()  # a tracked file may be deleted in the working tree
        and not any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in path.parts)
    ]


def test_no_file_points_outside_the_repository() -> None:
    offenders = []
    for path in _repository_files():
        data = (ROOT / path).read_bytes()
        if b"\0" in data or not OUTSIDE.search(data):
            continue  # binary, or clean
        for number, line in enumerate(data.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path}:{number}: {line.decode(errors='replace').strip()}")
    assert offenders == []
