"""What ``drover run`` prints into a pipe or CI log: progress as it goes, full names, the
verdict its exit code gives, errors apart from failures, and why nothing ran when setup broke."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """\
import pytest


@pytest.fixture
def broken():
    raise ValueError("the fixture broke")
"""
TESTS = """\
def test_fails():
    assert 1 == 2


def test_fixture_raises(broken):
    pass


def test_fixture_missing(missing_fixture):
    pass


def test_passes_with_a_name_far_longer_than_the_eighty_columns_of_a_terminal_or_a_ci_log():
    pass
"""


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "XDG_RUNTIME_DIR")}
    env["DROVER_HOME"] = str(tmp_path / "home")
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def _execution(tmp_path: Path, **project: object) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_mixed.py").write_text(TESTS)
    ids = [
        "test_mixed.py::test_fails",
        "test_mixed.py::test_fixture_raises",
        "test_mixed.py::test_fixture_missing",
        "test_mixed.py::test_passes_with_a_name_far_longer_than_the_eighty_columns_of_a_terminal"
        "_or_a_ci_log",
    ]
    spec = {
        "name": "mixed",
        "project": {"name": "mixed", "path": "project", **project},
        "flows": [
            {
                "name": "main",
                "groups": [{"name": "all", "threads": 2, "scenarios": [{"id": i} for i in ids]}],
            }
        ],
    }
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def drover_run(spec: Path, env: dict[str, str], results: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(spec), "--results", str(results)],
        capture_output=True, text=True, env=env, check=False, timeout=300, cwd=ROOT,
    )  # fmt: skip


def test_a_run_in_a_pipe(tmp_path: Path, run_env: dict[str, str]) -> None:
    results = tmp_path / "results.json"
    done = drover_run(_execution(tmp_path), run_env, results)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "RuntimeDirWarning" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()

    # progress while it ran: plain lines, one per change, before the final table
    table_at = next(i for i, line in enumerate(lines) if line.startswith("mixed — "))
    progress = [line for line in lines[:table_at] if " group main.all " in line]
    assert any("Running:" in line for line in progress), done.stdout
    assert any("4/4 done (1 passed, 1 failed, 2 error, 0 skipped)" in line for line in progress)
    assert len(progress) == len(set(progress))  # a line per change, not per poll

    # the verdict, not the workflow's phase, heads the table and the summary
    assert lines[table_at].rstrip().endswith("— Failed — 1 failed, 2 error, 1 passed")
    header = next(line for line in lines if "group" in line and "state" in line)
    row = next(line for line in lines[table_at:] if "main.all" in line)
    cells = dict(zip(_cells(header), _cells(row), strict=True))
    assert (cells["passed"], cells["failed"], cells["error"]) == ("1", "1", "2")
    assert any(
        line.startswith("Failed — 1 failed, 2 error, 1 passed (4 scenarios)") for line in lines
    )

    # each scenario's error says what went wrong, on one line, with whole names
    by_id = {_cells(line)[1]: _cells(line)[3] for line in lines if "test_mixed.py::" in line}
    assert by_id["test_mixed.py::test_fails"] == "assert 1 == 2"
    assert "ValueError: the fixture broke" in by_id["test_mixed.py::test_fixture_raises"]
    assert by_id["test_mixed.py::test_fixture_missing"].endswith(
        "fixture 'missing_fixture' not found"
    )
    assert not any("…" in line for line in lines)

    report = json.loads(results.read_text())
    assert report["verdict"] == "Failed — 1 failed, 2 error, 1 passed"
    assert report["groups"]["main.all"]["errored"] == 2
    # the summary indented, then a line per scenario (grep finds one whole)
    per_line = [
        json.loads(line.strip().rstrip(","))
        for line in results.read_text().splitlines()
        if line.lstrip().startswith('{"id": ')
    ]
    assert per_line == report["results"] and len(per_line) == 4


def test_a_setup_that_fails_says_why_nothing_ran(tmp_path: Path, run_env: dict[str, str]) -> None:
    spec = _execution(tmp_path, setup=["sh -c 'echo the setup broke >&2; exit 3'"])
    results = tmp_path / "results.json"
    done = drover_run(spec, run_env, results)
    assert done.returncode == 1, done.stdout + done.stderr
    assert results.exists(), done.stdout + done.stderr
    report = json.loads(results.read_text())
    assert report["setup_error"] and report["setup_error"].startswith("setup-env Failed: ")
    assert {r["status"] for r in report["results"]} == {"not_run"}
    assert all(r["error"] == f"not run: {report['setup_error']}" for r in report["results"])
    assert "Pending" not in " ".join(r["error"] for r in report["results"])
    assert report["setup_error"] in done.stdout
    assert "the setup broke" in done.stdout  # the end of setup-env's log, under its message

    shown = subprocess.run(
        [sys.executable, "-m", "engine.cli", "get", report["workflow"]],
        capture_output=True, text=True, env=run_env, check=False, cwd=ROOT,
    )  # fmt: skip
    message = report["setup_error"].removeprefix("setup-env Failed: ")
    assert any("setup-env" in line and message in line for line in shown.stdout.splitlines())


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("┃│").replace("┃", "│").split("│")]


def test_a_pipeline_in_a_pipe(tmp_path: Path, run_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(ROOT / "examples/pipelines/branching.yaml")],
        capture_output=True, text=True, env=run_env, check=False, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    table_at = next(i for i, line in enumerate(lines) if line.startswith("branching — "))
    assert any(line.endswith("job scale-up Succeeded") for line in lines[:table_at])
    bottom = next(line for line in lines[table_at:] if line.startswith("└"))
    assert bottom.endswith("┘")  # the summary starts on a line of its own
    assert any(line.startswith("branching-") and "Succeeded" in line for line in lines)


DOWNGRADE = """
from api.database import database_url, migrate
from api.embedded_server import embedded_server_scope
from api.settings import Settings

settings = Settings()
with embedded_server_scope(settings):
    migrate(database_url(settings), "0008", downgrade=True)
"""


def test_a_database_an_older_drover_left_is_upgraded_and_says_so(
    tmp_path: Path, run_env: dict[str, str]
) -> None:
    # An upgrade can rewrite every stored result (minutes with millions): the user is told
    # why the run waits, in a CI log as in a terminal.
    spec = _execution(tmp_path)
    first = drover_run(spec, run_env, tmp_path / "first.json")
    assert first.returncode == 1, first.stderr
    assert "upgrading the database" not in first.stderr  # a new database: nothing to say
    subprocess.run(
        [sys.executable, "-c", DOWNGRADE],
        env=run_env, check=True, timeout=300, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    again = drover_run(spec, run_env, tmp_path / "again.json")
    assert again.returncode == 1, again.stderr
    assert "upgrading the database from revision 0008 to " in again.stderr
    assert json.loads((tmp_path / "again.json").read_text())["counts"]["failed"] >= 1
