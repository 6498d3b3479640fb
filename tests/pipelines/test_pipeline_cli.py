"""``drover validate|compile|run`` accept pipelines as well as executions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pipelines"


def drover(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DROVER_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip


def test_validate_and_compile_a_pipeline(tmp_path: Path) -> None:
    done = drover("validate", str(EXAMPLES / "stages.yaml"), home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "valid pipeline" in done.stdout
    done = drover("compile", str(EXAMPLES / "scheduled.yaml"), home=tmp_path)
    assert done.returncode == 0, done.stderr
    (document,) = list(yaml.safe_load_all(done.stdout))
    assert document["kind"] == "CronWorkflow"


def test_run_a_pipeline_exit_code_follows_its_phase(tmp_path: Path) -> None:
    ok = drover("run", str(EXAMPLES / "branching.yaml"), home=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Succeeded" in ok.stdout
    failing = drover("run", str(EXAMPLES / "failure-notify.yaml"), home=tmp_path)
    assert failing.returncode == 1
    assert "Omitted" in failing.stdout


def test_bad_pipeline_exits_2_naming_the_job(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({
        "kind": "Pipeline", "name": "bad",
        "jobs": [{"name": "a", "needs": ["ghost"], "script": {"language": "bash", "source": "true"}}],
    }))  # fmt: skip
    done = drover("validate", str(spec), home=tmp_path)
    assert done.returncode == 2
    assert "jobs[a].needs[0]" in done.stderr
    assert "Traceback" not in done.stderr
