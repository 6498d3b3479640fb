"""A tiny real pytest project for runs that notify: one group passes, one fails a test and has
a flaky one (fails on its first attempt, passes on the agent's retry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TESTS = """
import os
from pathlib import Path

# In the run's workspace, which the agent's retry of the same worker shares.
MARK = Path(__file__).parent / "flaky-mark"


def test_passes():
    assert True


def test_fails():
    assert 1 + 1 == 3, "on purpose"


def test_flaky():
    if not MARK.exists():
        MARK.write_text("failed once")
        raise AssertionError("first attempt fails")
"""


def tiny_project(root: Path) -> Path:
    project = root / "tiny"
    (project / "tests").mkdir(parents=True, exist_ok=True)
    (project / "tests" / "test_tiny.py").write_text(TESTS)
    return project


def tiny_spec(
    project: Path, name: str, notify: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "Execution",
        "name": name,
        "project": {
            "name": "tiny",
            "path": str(project),
            "runner": {"kind": "pytest", "args": ["-p", "no:cacheprovider"]},
        },
        "defaults": {"threads": 1, "retries": 1, "pod_retries": 0},
        "flows": [
            {
                "name": "main",
                "groups": [
                    {"name": "smoke", "scenarios": [{"id": "tests/test_tiny.py::test_passes"}]},
                    {
                        "name": "rest",
                        "scenarios": [
                            {"id": "tests/test_tiny.py::test_fails"},
                            {"id": "tests/test_tiny.py::test_flaky"},
                        ],
                    },
                ],
            }
        ],
    }
    if notify is not None:
        spec["notify"] = notify
    return spec
