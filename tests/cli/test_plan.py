"""``drover plan`` predicts from what was measured (the spec, the project's earlier runs) and says
so when nothing was: no invented 30 s per scenario."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IDS = [f"test_trivial.py::test_{i}" for i in range(12)]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COLUMNS")}
    env.update({"DROVER_HOME": str(tmp_path / "home"), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    return env


def _spec(tmp_path: Path, scenarios: list[dict[str, Any]]) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "test_trivial.py").write_text(
        "".join(f"def test_{i}():\n    pass\n\n\n" for i in range(12))
    )
    document = {
        "name": "trivial",
        "project": {"name": "trivial", "path": "project"},
        "flows": [
            {"name": "main", "groups": [{"name": "all", "threads": 3, "scenarios": scenarios}]}
        ],
    }
    path = tmp_path / "trivial.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def drover(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, env=env, check=False, cwd=ROOT, timeout=300,
    )  # fmt: skip
    return done


def _loads(output: str) -> list[str]:
    """The predicted load cell of each worker row."""
    rows = [line.split("│") for line in output.splitlines() if re.match(r"│\s+\d+ │", line)]
    return [row[3].strip() for row in rows]


def test_no_durations_means_no_prediction(tmp_path: Path, env: dict[str, str]) -> None:
    done = drover("plan", str(_spec(tmp_path, [{"id": i} for i in IDS])), env=env)
    assert done.returncode == 0, done.stderr
    assert "predicted run time: unknown — no durations yet" in done.stdout
    assert "makespan: unknown — no durations yet" in done.stdout
    assert "durations: 0 from the spec, 0 from earlier runs, 12 unknown" in done.stdout
    assert _loads(done.stdout) == ["unknown"] * 3
    assert not re.search(r"\d+(\.\d+)? (s|min|h)\b", done.stdout), done.stdout
    rows = [line for line in done.stdout.splitlines() if re.match(r"│\s+\d+ │", line)]
    assert [row.split("│")[2].strip() for row in rows] == ["4", "4", "4"]  # spread evenly
    assert not Path(env["DROVER_HOME"]).exists()  # no database made just to find no history


def test_durations_in_the_spec_predict(tmp_path: Path, env: dict[str, str]) -> None:
    done = drover("plan", str(_spec(tmp_path, [{"id": i, "duration": 2} for i in IDS])), env=env)
    assert done.returncode == 0, done.stderr
    assert "durations: 12 from the spec, 0 from earlier runs, 0 unknown" in done.stdout
    assert "predicted run time: 8.0 s" in done.stdout
    assert _loads(done.stdout) == ["8.0 s"] * 3


def test_an_assumed_duration_is_the_users(tmp_path: Path, env: dict[str, str]) -> None:
    spec = _spec(tmp_path, [{"id": i} for i in IDS])
    done = drover("plan", str(spec), "--default-duration", "30", env=env)
    assert "12 unknown (assumed 30.0 s)" in done.stdout
    assert "predicted run time: 2.0 min" in done.stdout


def test_earlier_runs_predict(tmp_path: Path, env: dict[str, str]) -> None:
    spec = _spec(tmp_path, [{"id": i} for i in IDS])
    ran = drover("run", str(spec), env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    done = drover("plan", str(spec), env=env)
    assert done.returncode == 0, done.stderr
    assert "durations: 0 from the spec, 12 from earlier runs, 0 unknown" in done.stdout
    assert "unknown" not in done.stdout.replace("0 unknown", "")
    assert re.search(r"predicted run time: \d+\.\d s", done.stdout), done.stdout
    pgdata = Path(env["DROVER_HOME"]) / "postgres"
    # plan stops the server it started, without waiting for it: gone a moment later
    deadline = time.monotonic() + 30
    while (pgdata / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (pgdata / "postmaster.pid").exists()


def test_an_unreachable_database_is_a_warning(tmp_path: Path, env: dict[str, str]) -> None:
    spec = _spec(tmp_path, [{"id": i, "duration": 1.0} for i in IDS])
    missing = tmp_path / "no-server"
    url = f"postgresql+psycopg://drover@/drover?host={missing}"
    done = drover("plan", str(spec), env={**env, "DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    assert "warning: earlier runs not read:" in done.stderr
    assert str(missing) in done.stderr  # libpq's own words: which socket it tried
    assert "durations: 12 from the spec, 0 from earlier runs, 0 unknown" in done.stdout
