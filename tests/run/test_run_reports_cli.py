"""``drover run --junit FILE --report DIR``: a CI job without the service gets the run's JUnit
XML (reruns kept) and its reports; ``drover gc`` frees them and says how much."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from junitparser import JUnitXml

TESTS = (
    "import pathlib\n\n"
    "def test_ok():\n    pass\n\n"
    "def test_flaky():\n"
    "    marker = pathlib.Path(__file__).with_name('.tried')\n"
    "    if not marker.exists():\n"
    "        marker.write_text('')\n"
    "        raise AssertionError('first try fails')\n"
)


def test_run_writes_junit_and_reports_then_gc_frees_them(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_it.py").write_text(TESTS)
    spec = tmp_path / "execution.yaml"
    spec.write_text(yaml.safe_dump({
        "kind": "Execution", "name": "cli-reports",
        "project": {"name": "p", "path": str(project), "runner": {"kind": "pytest"}},
        "defaults": {"threads": 1, "retries": 1},
        "flows": [{"name": "f", "groups": [{"name": "g", "scenarios": [
            {"id": "test_it.py::test_ok"}, {"id": "test_it.py::test_flaky"}]}]}],
    }))  # fmt: skip
    env = {
        **os.environ,
        "DROVER_HOME": str(tmp_path / "home"),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }

    def drover(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "engine.cli", *args],
            capture_output=True, text=True, env=env, check=False, timeout=300,
        )  # fmt: skip

    junit, report = tmp_path / "out" / "junit.xml", tmp_path / "report"
    done = drover("run", str(spec), "--junit", str(junit), "--report", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"JUnit XML (2 scenarios) written to {junit}" in done.stdout
    xml = JUnitXml.fromfile(str(junit))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (2, 0, 0, 0)
    assert "<flakyFailure" in junit.read_text()  # the failed first attempt is kept
    assert (report / "junit.xml").read_text() == junit.read_text()
    assert (report / "index.json").is_file()  # the exit handler's merged reports, copied

    gc = drover("gc", "--older-than-days", "0")
    assert gc.returncode == 0, gc.stderr
    assert "purged 1 runs" in gc.stdout
    assert "their reports and artifacts freed" in gc.stdout
    assert "freed 0 bytes" not in gc.stdout
    assert not any((tmp_path / "home" / "reports").glob("*/workers"))
