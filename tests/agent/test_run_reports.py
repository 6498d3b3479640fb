"""Workers keep their runners' native reports and artifacts; the exit handler merges them into
the run's reports with the tools' own mergers (real pytest, cucumber-js, Playwright)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

import pytest
from agent_plans import RunAgent, read_results, write_plan
from node_projects import CUCUMBER_JS, PLAYWRIGHT, copy_project

from engine.discovery import DiscoveryRunner, discover

CHROMIUM = Path("/usr/bin/chromium")
CHECKOUT = [(3, "the total adds up"), (7, "the discount is applied")]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_workers(
    run_agent: RunAgent,
    plan: Path,
    project: Path,
    tmp_path: Path,
    shards: list[str],
    env: dict[str, str] | None = None,
) -> Path:
    """Every shard through ``drover-agent run --reports``, at once; the directory of their
    kept reports (one .tgz each, as Argo stores them)."""
    kept = tmp_path / "kept"
    kept.mkdir()

    def run(shard: str) -> subprocess.CompletedProcess[str]:
        return run_agent(
            "run", "--plan-dir", str(plan), "--workspace", str(project), "--group", "main.all",
            "--shard", shard, "--results", str(tmp_path / f"results-{shard}.json"),
            "--reports", str(kept / f"worker-{shard}.tgz"), env=env,
        )  # fmt: skip

    with ThreadPoolExecutor(len(shards)) as pool:
        done = list(pool.map(run, shards))
    for process in done:
        assert process.returncode in (0, 1), process.stderr
    return kept


def merge(run_agent: RunAgent, plan: Path, kept: Path, project: Path, out: Path) -> Path:
    done = run_agent(
        "cleanup", "--plan-dir", str(plan), "--status", "Failed", "--workers", str(kept),
        "--workspace", str(project), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "drover-agent: run reports:" in done.stdout
    return out


def test_pytest_worker_keeps_junit_per_attempt_and_each_tests_artifacts(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_flaky.py").write_text(
        "import os, pathlib\n\n"
        "def test_flaky():\n"
        "    folder = pathlib.Path(os.environ['DROVER_ARTIFACTS_DIR'])\n"
        "    (folder / 'page.html').write_text('<p>attempt</p>')\n"
        "    marker = pathlib.Path(__file__).with_name('ran-once')\n"
        "    if not marker.exists():\n"
        "        marker.write_text('')\n"
        "        raise AssertionError('first attempt fails')\n\n"
        "def test_steady():\n"
        "    pass\n"
    )
    ids = ["test_flaky.py::test_flaky", "test_flaky.py::test_steady"]
    plan = write_plan(
        tmp_path / "plan", runner={}, workers={"0": ids}, retries=1, path=str(project)
    )
    kept = tmp_path / "kept"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(project), "--group", "main.all",
        "--shard", "0", "--results", str(tmp_path / "results.json"), "--reports", str(kept),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    document = read_results(tmp_path / "results.json")
    final = {r["id"]: r for r in document["results"]}
    assert final["test_flaky.py::test_flaky"]["status"] == "passed"
    assert final["test_flaky.py::test_flaky"]["attempt"] == 2
    assert final["test_flaky.py::test_flaky"]["artifacts"] == ["page.html"]
    # Each attempt's artifacts apart, beside the result that names them.
    first = document["retried"][0]
    assert (first["status"], first["artifacts"]) == ("failed", ["page.html"])
    assert first["artifact_dir"] != final["test_flaky.py::test_flaky"]["artifact_dir"]
    assert (kept / first["artifact_dir"] / "page.html").read_text() == "<p>attempt</p>"
    assert final["test_flaky.py::test_steady"]["artifacts"] == []
    # pytest's results come from the plugin's record: no native report of its own is asked for.
    assert not list((kept / "native").glob("*"))
    assert json.loads((kept / "results.json").read_text())["results"] == document["results"]


RECORDING = """\
import pytest

def test_tagged(record_property):
    record_property("test_key", "PROJ-1")
    record_property("count", 3)
    record_property("odd", 'a <b> & "c"\\n\\tend')

@pytest.mark.parametrize("n", [1, 2])
def test_each(record_property, n):
    record_property("n", n)
    assert n == 1

def test_plain():
    pass
"""


def junit_properties(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Each test case's ``<property>`` pairs, by the case's test id (``file.py::name``)."""
    found = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        key = name if "::" in name else f"{case.get('classname')}.py::{name}"
        pairs = [(p.get("name", ""), p.get("value", "")) for p in case.iter("property")]
        found[key] = pairs
    return found


def test_recorded_properties_reach_the_runs_junit_as_pytests_own_report_has_them(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_props.py").write_text(RECORDING)
    native = tmp_path / "native.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
         "junit_family=xunit1", f"--junitxml={native}"],
        cwd=project, capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    expected = junit_properties(native)
    assert expected["test_props.py::test_tagged"] == [
        ("test_key", "PROJ-1"), ("count", "3"), ("odd", 'a <b> & "c"\n\tend')
    ]  # fmt: skip
    assert len(expected) == 4

    ids = [s.id for s in discover(DiscoveryRunner.PYTEST, project)]
    plan = write_plan(
        tmp_path / "plan", runner={}, workers={"0": ids[:2], "1": ids[2:]}, path=str(project)
    )
    kept = run_workers(run_agent, plan, project, tmp_path, ["0", "1"])
    results = {
        r["id"]: r
        for shard in ("0", "1")
        for r in read_results(tmp_path / f"results-{shard}.json")["results"]
    }
    assert results["test_props.py::test_each[2]"]["properties"] == [["n", "2"]]
    assert "properties" not in results["test_props.py::test_plain"]
    out = merge(run_agent, plan, kept, project, tmp_path / "merged")
    assert junit_properties(out / "junit.xml") == expected


def test_every_test_gets_an_empty_artifacts_directory_and_only_written_ones_are_kept(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """The plugin hands a directory a test left empty to the next test (no directory made and
    removed per test); each test still starts in an empty directory, a written one is never
    handed on, and no empty directory is left behind."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_dirs.py").write_text(
        "import os, pathlib\n\n"
        "def check(write):\n"
        "    folder = pathlib.Path(os.environ['DROVER_ARTIFACTS_DIR'])\n"
        "    assert folder.is_dir() and not any(folder.iterdir())\n"
        "    if write:\n"
        "        (folder / f'{write}.txt').write_text(write)\n\n"
        "def test_a():\n    check(None)\n\n"
        "def test_b():\n    check('b')\n\n"
        "def test_c():\n    check(None)\n\n"
        "def test_d():\n    check('d')\n\n"
        "def test_e():\n    check(None)\n"
    )
    ids = [f"test_dirs.py::test_{name}" for name in "abcde"]
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": ids}, path=str(project))
    kept = tmp_path / "kept"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(project), "--group", "main.all",
        "--shard", "0", "--results", str(tmp_path / "results.json"), "--reports", str(kept),
        "--report-dir", str(tmp_path / "scratch"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = {r["id"]: r for r in read_results(tmp_path / "results.json")["results"]}
    assert {i: r["status"] for i, r in results.items()} == dict.fromkeys(ids, "passed")
    assert {i: r["artifacts"] for i, r in results.items()} == {
        **{i: [] for i in ids},
        "test_dirs.py::test_b": ["b.txt"],
        "test_dirs.py::test_d": ["d.txt"],
    }
    (batch,) = (tmp_path / "scratch" / "raw-artifacts").iterdir()
    written = sorted(p.name for p in batch.iterdir() if p.is_dir())
    assert [sorted(f.name for f in (batch / d).iterdir()) for d in written] == [
        ["b.txt"],
        ["d.txt"],
    ]


def test_cucumber_over_three_workers_makes_one_html_report_with_every_scenario_once(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = copy_project(CUCUMBER_JS, tmp_path / "project")
    ids = [s.id for s in discover(DiscoveryRunner.CUCUMBER, project)]
    plan = write_plan(
        tmp_path / "plan",
        runner={"kind": "cucumber"},
        workers={"0": ids[0::3], "1": ids[1::3], "2": ids[2::3]},
        retries=1,
        path=str(project),
    )
    state = tmp_path / "state"
    state.mkdir()
    kept = run_workers(
        run_agent, plan, project, tmp_path, ["0", "1", "2"], {"FIXTURE_STATE_DIR": str(state)}
    )
    with tarfile.open(kept / "worker-0.tgz") as tar:
        names = tar.getnames()
    assert "results.json" in names
    assert any(re.fullmatch(r"native/cucumber-messages-a1-0\.ndjson", n) for n in names)
    assert any(n.startswith("native/cucumber-messages-a2-") for n in names)  # the rerun's

    out = merge(run_agent, plan, kept, project, tmp_path / "run")
    index = json.loads((out / "index.json").read_text())
    assert index["reports"]["cucumber"] == "cucumber/index.html", index["problems"]
    html = (out / "cucumber" / "index.html").read_text()
    envelopes = html_messages(html)
    pickles = [e["pickle"] for e in envelopes if "pickle" in e]
    scenarios = [f"{p['uri']}:{p['location']['line']}" for p in pickles]
    assert sorted(scenarios) == sorted(ids)  # every scenario once
    documents = [e["gherkinDocument"]["uri"] for e in envelopes if "gherkinDocument" in e]
    assert sorted(documents) == sorted({i.rpartition(":")[0] for i in ids})
    # A scenario Drover ran again is one scenario with two attempts.
    cases = {e["testCase"]["id"]: e["testCase"]["pickleId"] for e in envelopes if "testCase" in e}
    assert len(cases) == len(ids)
    attempts = [e["testCaseStarted"] for e in envelopes if "testCaseStarted" in e]
    assert {a["testCaseId"] for a in attempts} == set(cases)
    assert max(a["attempt"] for a in attempts) >= 1
    node_ids = {
        i for e in envelopes if "gherkinDocument" in e for i in ast_ids(e["gherkinDocument"])
    }
    assert all(set(p["astNodeIds"]) <= node_ids for p in pickles)


def html_messages(html: str) -> list[dict[str, object]]:
    """The messages @cucumber/html-formatter embeds in its page (a JSON array in a script)."""
    match = re.search(r"window\.CUCUMBER_MESSAGES = (\[.*?\]);\s*</script>", html, re.DOTALL)
    assert match is not None, "no messages in the HTML report"
    # A JavaScript literal: '<' is written as \x3C so no message can close the script.
    text = re.sub(r"\\x([0-9A-Fa-f]{2})", r"\\u00\1", match[1])
    messages: list[dict[str, object]] = json.loads(text)
    return messages


def ast_ids(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("id"), str):
            found.add(node["id"])
        for value in node.values():
            found |= ast_ids(value)
    elif isinstance(node, list):
        for value in node:
            found |= ast_ids(value)
    return found


def test_playwright_over_three_workers_makes_one_html_report_of_every_test(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/setup installs it with apt-get)")
    project = copy_project(PLAYWRIGHT, tmp_path / "project")
    assert len(list((project / "reports").glob("*.pw.ts"))) == 3
    config = ["--config", "reports.config.ts"]
    plan = write_plan(
        tmp_path / "plan",
        runner={"kind": "playwright", "args": config},
        workers={
            "0": ["reports/account.pw.ts"],
            "1": ["reports/catalog.pw.ts"],
            # One scenario per test: the failing one's attempts are results of their own.
            "2": [f"reports/checkout.pw.ts:{line} \u203a {title}" for line, title in CHECKOUT],
        },
        path=str(project),
        retries=1,
    )
    kept = run_workers(run_agent, plan, project, tmp_path, ["0", "1", "2"])
    out = merge(run_agent, plan, kept, project, tmp_path / "run")
    index = json.loads((out / "index.json").read_text())
    assert index["reports"]["playwright"] == "playwright/index.html", index["problems"]
    assert (out / "playwright" / "index.html").stat().st_size > 0

    merged = json.loads((out / "playwright" / "report.json").read_text())
    unsharded = json.loads(
        subprocess.run(
            [str(project / "node_modules/.bin/playwright"), "test", "--list", "--reporter=json", *config],
            cwd=project, capture_output=True, text=True, check=True, timeout=120,
        ).stdout
    )  # fmt: skip
    # Drover's retry is Playwright's own: the failing test is retried inside its run, so it
    # stays one test (with two runs) in the merged report, as in an unsharded run.
    assert count_tests(merged) == count_tests(unsharded) == 7
    stats = merged["stats"]
    assert (stats["expected"], stats["unexpected"], stats["skipped"]) == (5, 1, 1)

    # The failing test's screenshot and trace are kept beside its result.
    failing = next(
        (r, shard)
        for shard in ("0", "1", "2")
        for r in read_results(tmp_path / f"results-{shard}.json")["results"]
        if r["status"] == "failed"
    )
    result, shard = failing
    document = read_results(tmp_path / f"results-{shard}.json")
    (earlier,) = [r for r in document["retried"] if r["id"] == result["id"]]
    assert (earlier["status"], earlier["attempt"], result["attempt"]) == ("failed", 1, 2)
    with tarfile.open(kept / f"worker-{shard}.tgz") as tar:
        folder = tmp_path / "unpacked"
        tar.extractall(folder, filter="data")
    for attempt in (earlier, result):  # each run's own screenshot and trace
        files_kept = {n: folder / attempt["artifact_dir"] / n for n in attempt["artifacts"]}
        screenshot = next(p for n, p in files_kept.items() if n.endswith(".png"))
        trace = next(p for n, p in files_kept.items() if n.endswith(".zip"))
        assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
        assert zipfile.is_zipfile(trace)
    assert earlier["artifact_dir"] != result["artifact_dir"]
    assert shutil.which("node")


def count_tests(report: dict[str, object]) -> int:
    """Tests in a Playwright JSON report (each spec's tests, one per project)."""

    def walk(suites: object) -> int:
        total = 0
        for suite in suites if isinstance(suites, list) else []:
            total += sum(len(spec["tests"]) for spec in suite.get("specs", []))
            total += walk(suite.get("suites", []))
        return total

    return walk(report.get("suites", []))
