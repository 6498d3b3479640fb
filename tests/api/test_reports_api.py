"""Reports and artifacts through HTTP, after real runs on the local backend: the run's JUnit XML
(Surefire's schema, read back by junitparser with the run's counts, a rerun kept), Playwright's
merged HTML report over 3 workers, and a failing test's screenshot and trace."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import xmlschema
from fastapi.testclient import TestClient
from junitparser import JUnitXml

from tests.agent.node_projects import PLAYWRIGHT, copy_project
from tests.api.conftest import AUTH
from tests.api.test_run_e2e import follow_events

ROOT = Path(__file__).resolve().parents[2]
SUREFIRE_XSD = ROOT / "tests" / "data" / "junit" / "surefire-test-report-3.0.xsd"
CHROMIUM = Path("/usr/bin/chromium")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

FLAKY_PROJECT = {
    "test_shop.py": (
        "import os, pathlib\n\n"
        "def test_total():\n"
        "    assert 7.5 + 5 == 12.5\n\n"
        "def test_flaky_payment():\n"
        "    (pathlib.Path(os.environ['DROVER_ARTIFACTS_DIR']) / 'payment.log').write_text('ok')\n"
        "    marker = pathlib.Path(__file__).with_name('.tried')\n"
        "    if not marker.exists():\n"
        "        marker.write_text('')\n"
        "        raise AssertionError('gateway timed out')\n\n"
        "def test_discount():\n"
        "    assert 10 * 0.9 == 9.5, 'discount is off'\n"
    ),
}


def start_and_finish(client: TestClient, spec: dict[str, Any]) -> str:
    execution = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert execution.status_code == 201, execution.text
    started = client.post(f"/api/v1/executions/{execution.json()['id']}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run_id: str = started.json()["id"]
    assert follow_events(client, run_id)[-1][0] == "end"
    return run_id


def results_of(client: TestClient, run_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/runs/{run_id}/results?limit=1000", headers=AUTH)
    assert page.status_code == 200
    items: list[dict[str, Any]] = page.json()["items"]
    return items


@pytest.fixture(scope="module")
def pytest_run(client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    project = tmp_path_factory.mktemp("flaky-project")
    for name, text in FLAKY_PROJECT.items():
        (project / name).write_text(text)
    ids = [f"test_shop.py::{n}" for n in ("test_total", "test_flaky_payment", "test_discount")]
    spec = {
        "kind": "Execution",
        "name": "reports-pytest",
        "project": {"name": "flaky", "path": str(project), "runner": {"kind": "pytest"}},
        "defaults": {"threads": 2, "retries": 1},
        "flows": [{"name": "shop", "groups": [{"name": "all", "scenarios": [{"id": i} for i in ids]}]}],
    }  # fmt: skip
    return start_and_finish(client, spec)


def test_report_xml_validates_and_reads_back_with_the_runs_counts(
    client: TestClient, pytest_run: str, tmp_path: Path
) -> None:
    response = client.get(f"/api/v1/runs/{pytest_run}/report.xml", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    schema = xmlschema.XMLSchema(str(SUREFIRE_XSD))
    root = ElementTree.fromstring(response.content)
    for suite in root.findall("testsuite"):
        schema.validate(ElementTree.tostring(suite, encoding="unicode"))
    path = tmp_path / "junit.xml"
    path.write_bytes(response.content)
    xml = JUnitXml.fromfile(str(path))
    run = client.get(f"/api/v1/runs/{pytest_run}", headers=AUTH).json()
    assert (
        (xml.tests, xml.failures, xml.errors, xml.skipped)
        == (
            run["total"],
            run["failed"],
            run.get("errored", 0),
            run["skipped"],
        )
        == (3, 1, 0, 0)
    )
    cases = {case.name: case for suite in xml for case in suite}
    assert cases["test_shop.py::test_flaky_payment"].is_passed  # failed, then passed on rerun
    flaky = root.find(".//testcase[@name='test_shop.py::test_flaky_payment']")
    assert flaky is not None and [e.tag for e in flaky] == ["flakyFailure"]
    broken = root.find(".//testcase[@name='test_shop.py::test_discount']")
    assert broken is not None and [e.tag for e in broken] == ["failure", "rerunFailure"]


def test_a_pytest_tests_artifacts_are_served_per_attempt(
    client: TestClient, pytest_run: str
) -> None:
    attempts = [r for r in results_of(client, pytest_run) if r["scenario_id"].endswith("payment")]
    assert [r["status"] for r in attempts] == ["failed", "passed"]
    for result in attempts:
        assert result["artifacts"] == ["payment.log"]
        served = client.get(f"/api/v1/results/{result['id']}/artifacts/payment.log", headers=AUTH)
        assert served.status_code == 200
        assert served.text == "ok"
        assert served.headers["content-type"].startswith("text/plain")
    assert attempts[0]["artifact_dir"] != attempts[1]["artifact_dir"]
    missing = client.get(f"/api/v1/results/{attempts[0]['id']}/artifacts/other.txt", headers=AUTH)
    assert missing.status_code == 404
    sneaky = client.get(
        f"/api/v1/results/{attempts[0]['id']}/artifacts/..%2F..%2Fresults.json", headers=AUTH
    )
    assert sneaky.status_code == 404


@pytest.fixture(scope="module")
def playwright_run(client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/setup installs it with apt-get)")
    project = copy_project(PLAYWRIGHT, tmp_path_factory.mktemp("pw") / "project")
    files = sorted(p.relative_to(project).as_posix() for p in (project / "reports").glob("*.pw.ts"))
    spec = {
        "kind": "Execution",
        "name": "reports-playwright",
        "project": {
            "name": "pw",
            "path": str(project),
            "runner": {"kind": "playwright", "args": ["--config", "reports.config.ts"]},
        },
        "defaults": {"threads": 3, "retries": 0},
        "flows": [{"name": "web", "groups": [{"name": "all", "scenarios": [{"id": f} for f in files]}]}],
    }  # fmt: skip
    return start_and_finish(client, spec)


def test_playwright_over_three_workers_is_one_html_report(
    client: TestClient, playwright_run: str
) -> None:
    run = client.get(f"/api/v1/runs/{playwright_run}", headers=AUTH).json()
    assert [len(g["workers"]) for g in run["groups"]] == [3]
    index = client.get(f"/api/v1/runs/{playwright_run}/reports", headers=AUTH).json()
    assert index["stored"] and "playwright" in index["links"], index
    assert index["bytes"] > 0
    page = client.get(f"/api/v1/runs/{playwright_run}/reports/playwright/", headers=AUTH)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    report = client.get(
        f"/api/v1/runs/{playwright_run}/reports/playwright/report.json", headers=AUTH
    ).json()
    stats = report["stats"]
    assert (stats["expected"], stats["unexpected"], stats["skipped"]) == (5, 1, 1)
    outside = client.get(
        f"/api/v1/runs/{playwright_run}/reports/playwright/..%2F..%2Fworkers", headers=AUTH
    )
    assert outside.status_code == 404


def test_a_failing_tests_screenshot_and_trace_are_served(
    client: TestClient, playwright_run: str
) -> None:
    (failed,) = [r for r in results_of(client, playwright_run) if r["status"] == "failed"]
    names = failed["artifacts"]
    screenshot = next(n for n in names if n.endswith(".png"))
    trace = next(n for n in names if n.endswith(".zip"))
    base = f"/api/v1/results/{failed['id']}/artifacts"
    png = client.get(f"{base}/{screenshot}", headers=AUTH)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)
    archive = client.get(f"{base}/{trace}", headers=AUTH)
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert opened.testzip() is None and opened.namelist()
    # Range requests (a video player seeking): the part asked for, 206.
    part = client.get(f"{base}/{trace}", headers={**AUTH, "Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == archive.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(archive.content)}"
    assert json.loads(json.dumps(names))  # plain names, no paths
    assert all("/" not in n for n in names)


def test_retention_frees_the_runs_reports_and_artifacts(
    client: TestClient, pytest_run: str
) -> None:
    """Reports follow the run's retention: purging the run deletes what the service kept and
    the workflow's keys in the local artifact repository, and says how many bytes that was."""
    from datetime import UTC, datetime, timedelta

    from api.models import Run
    from api.retention import purge
    from engine.labels import reports_key_prefix

    service = client.app.state.service  # type: ignore[attr-defined]
    kept = service.reports.run_dir(pytest_run)
    with service.sessions() as session:
        run = session.get(Run, pytest_run)
        assert run is not None and run.reports_bytes > 0
        workflow = str(run.workflow_name)
        run.created_at = datetime.now(UTC) - timedelta(days=400)
        session.commit()
    repository = service.backends["local"].store.repository_path(reports_key_prefix(workflow))
    assert kept.is_dir() and repository.is_dir()
    with service.sessions() as session:
        purged = purge(
            session, older_than_days=365, backends=service.backends, reports=service.reports
        )
    assert purged.runs == [pytest_run]
    assert purged.freed_bytes > 0
    assert not kept.exists() and not repository.exists()
    assert client.get(f"/api/v1/runs/{pytest_run}/report.xml", headers=AUTH).status_code == 404
