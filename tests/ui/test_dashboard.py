"""The dashboard's main journeys in Chromium: start a run and watch it to the end, read a
failure (error, screenshot, log excerpt), retry, suspend and resume, cancel, lose the live
stream and resume it, follow a log, filter the runs list and a run's scenarios, read an
execution's history and versions, read a pipeline's branches.

Each test leaves a screenshot of its page in tests/ui/screenshots/ (ignored by git)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.api.conftest import ADMIN
from tests.ui.conftest import LiveServer, screenshot

ROOT = Path(__file__).resolve().parents[2]

PROJECT_TESTS = """
import os
import struct
import time
import zlib
from pathlib import Path


def _png(width, height, rgb):
    # A plain PNG (RGB, 8 bits), as a browser test's screenshot would be.
    rows = b"".join(b"\\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_adds():
    assert 1 + 2 == 3


def test_total_is_three():
    print("\\x1b[31mcomputing the total\\x1b[0m")
    # The agent keeps what a test writes to $DROVER_ARTIFACTS_DIR with its result.
    shots = Path(os.environ["DROVER_ARTIFACTS_DIR"])
    (shots / "screenshot.png").write_bytes(_png(160, 90, (179, 38, 30)))
    assert 1 + 1 == 3, "the total should be three"


def test_takes_a_moment():
    time.sleep(float(os.environ.get("PAUSE", "0.3")))
"""


def _project(tmp: Path) -> Path:
    project = tmp / "project"
    (project / "tests").mkdir(parents=True, exist_ok=True)
    (project / "tests" / "test_sums.py").write_text(PROJECT_TESTS)
    return project


def _execution(live: LiveServer, tmp: Path, name: str, pause: float = 0.3) -> dict[str, Any]:
    project = _project(tmp)
    ids = [
        "tests/test_sums.py::test_adds",
        "tests/test_sums.py::test_total_is_three",
        "tests/test_sums.py::test_takes_a_moment",
    ]
    spec = {
        "kind": "Execution",
        "name": name,
        "project": {"name": name, "path": str(project), "runner": {"kind": "pytest"}},
        "test_data": {"PAUSE": str(pause)},
        "defaults": {"retries": 0, "threads": 2},
        "flows": [
            {
                "name": "main",
                "groups": [
                    {"name": "first", "scenarios": [{"id": ids[0]}]},
                    {"name": "second", "scenarios": [{"id": i} for i in ids[1:]]},
                ],
            }
        ],
    }
    return dict(live.api("POST", "/executions", json=spec))


def _wait_final(page: Any) -> None:
    page.get_by_text(re.compile(r"Phase: (Succeeded|Failed|Error|Canceled|Stopped)")).wait_for()


def test_run_now_watch_live_and_open_a_failure(page: Any, live: LiveServer, tmp_path: Path) -> None:
    execution = _execution(live, tmp_path, "ui-watch")
    page.goto(f"/executions/{execution['id']}")
    page.get_by_role("button", name="Run now").wait_for()
    screenshot(page, "execution")
    page.get_by_role("button", name="Run now").click()
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/runs/\w+$"))
    page.evaluate("window.notReloaded = true")
    # Live: the groups appear and progress without a reload, to the end.
    page.get_by_role("heading", name="Flow main").wait_for()
    _wait_final(page)
    assert page.evaluate("window.notReloaded === true")
    assert page.evaluate("window.drover.streams[0].counts.delta") >= 1
    summary = page.get_by_role("region", name="Run summary")
    assert "failed" in summary.inner_text()
    groups = page.get_by_role("region", name="Flows and groups").inner_text()
    assert "first" in groups and "second" in groups
    page.get_by_text("3 of 3 scenarios").wait_for()
    # The failure first in the table; opening it shows its error.
    row = page.get_by_role("row", name=re.compile("test_total_is_three"))
    row.click()
    detail = page.get_by_role("region", name="Scenario detail")
    # The attempt's error, not the log excerpt below it (which, once loaded, holds it too).
    detail.locator("pre:not(.log)", has_text="the total should be three").wait_for()
    # Its screenshot inline: the image the test wrote, served by the API and decoded.
    shot = detail.get_by_role("img", name="screenshot screenshot.png")
    shot.wait_for()
    shot.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shot.element_handle())
    assert shot.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [160, 90]
    # A log excerpt: its worker's lines from the first that names it (what it printed).
    excerpt = detail.get_by_label("log lines of this scenario")
    excerpt.get_by_text("computing the total").first.wait_for()
    assert "test_total_is_three" in excerpt.inner_text()
    # The run's reports: its JUnit XML, served to the signed-in browser.
    junit = page.get_by_role("region", name="Reports").get_by_role("link", name="JUnit XML")
    xml = page.request.get(junit.get_attribute("href"))
    assert xml.ok and "test_total_is_three" in xml.text()
    assert page.locator("canvas.timeline").count() == 1
    # The timeline sets the plan's prediction beside what happened.
    legend = page.get_by_role("region", name="Worker timeline").locator(".legend").inner_text()
    assert "predicted makespan" in legend and "lower bound" in legend
    screenshot(page, "run")


def test_scenario_table_filters_and_sorts(page: Any, live: LiveServer) -> None:
    runs = [r for r in live.api("GET", "/runs?limit=500")["items"] if r["attempt"] == 1]
    watched = next((r for r in runs if r["execution_name"] == "ui-watch"), None)
    if watched is None:
        pytest.skip("needs the run of the test above")
    page.goto(f"/runs/{watched['id']}")
    page.get_by_text("3 of 3 scenarios").wait_for()
    page.get_by_label("Group", exact=True).select_option("main.second")
    page.get_by_text("2 of 3 scenarios").wait_for()
    page.get_by_label("Status", exact=True).select_option("failed")
    page.get_by_text("1 of 3 scenarios").wait_for()
    assert "test_total_is_three" in page.locator("tbody tr").first.inner_text()
    page.get_by_label("Status", exact=True).select_option("")
    page.get_by_label("Sort", exact=True).select_option("-duration")
    page.get_by_text("2 of 3 scenarios").wait_for()
    assert "test_takes_a_moment" in page.locator("tbody tr").first.inner_text()
    page.get_by_label("Group", exact=True).select_option("")
    page.get_by_label("Search scenarios").fill("adds")
    page.get_by_text("1 of 3 scenarios").wait_for()


def test_retry_shows_the_next_attempt(page: Any, live: LiveServer, tmp_path: Path) -> None:
    execution = _execution(live, tmp_path, "ui-retry")
    run = live.api("POST", f"/executions/{execution['id']}/run")
    page.goto(f"/runs/{run['id']}")
    _wait_final(page)
    page.get_by_role("button", name="Retry").click()
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("region", name="Run summary").get_by_text("Attempt 2").wait_for()
    _wait_final(page)
    # The failed scenario ran again: its row shows attempt 2, its detail both attempts.
    row = page.get_by_role("row", name=re.compile("test_total_is_three"))
    row.get_by_role("cell", name="2", exact=True).wait_for()
    row.click()
    detail = page.get_by_role("region", name="Scenario detail")
    detail.get_by_text("Attempt 2").wait_for()
    assert detail.get_by_text("Attempt 1").count() == 1
    screenshot(page, "run-retried")


def test_execution_page_shows_scenario_history(page: Any, live: LiveServer, tmp_path: Path) -> None:
    """Two runs of an execution: each scenario's outcomes in both (newest first), its pass
    rate and the trend of its durations."""
    execution = _execution(live, tmp_path, "ui-history", pause=0.1)
    for _ in range(2):
        run = live.api("POST", f"/executions/{execution['id']}/run")
        page.goto(f"/runs/{run['id']}")
        _wait_final(page)
    page.goto(f"/executions/{execution['id']}")
    history = page.get_by_role("region", name="Scenario history")
    row = history.get_by_role("row", name=re.compile("test_total_is_three"))
    row.wait_for()
    assert row.locator(".status-failed").count() == 2
    assert "0 %" in row.inner_text()
    steady = history.get_by_role("row", name=re.compile("test_takes_a_moment"))
    assert steady.locator(".status-passed").count() == 2 and "100 %" in steady.inner_text()
    spark = steady.get_by_role("img", name=re.compile("durations, oldest to newest"))
    assert spark.count() == 1
    assert page.locator("#app").inner_text().strip().endswith("null") is False
    screenshot(page, "execution-history")


def test_execution_versions_diff_and_spec_download(
    page: Any, live: LiveServer, tmp_path: Path
) -> None:
    execution = _execution(live, tmp_path, "ui-versions")
    spec = live.api("GET", f"/executions/{execution['id']}")["spec"]
    spec["defaults"]["threads"] = 3
    live.api("PUT", f"/executions/{execution['id']}", json=spec)
    page.goto(f"/executions/{execution['id']}")
    page.get_by_role("heading", name="Spec (version 2)").wait_for()
    page.get_by_label("compare from version").select_option("1")
    page.get_by_role("button", name="Diff with current").click()
    diff = page.get_by_label("difference between versions")
    diff.locator(".add", has_text="threads: 3").wait_for()
    assert diff.locator(".del", has_text="threads: 2").count() == 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Download spec").click()
    saved = yaml.safe_load(Path(download.value.path()).read_text())
    assert saved["defaults"]["threads"] == 3


def test_follow_a_live_log_with_colours(page: Any, live: LiveServer, tmp_path: Path) -> None:
    execution = _execution(live, tmp_path, "ui-logs", pause=3)
    run = live.api("POST", f"/executions/{execution['id']}/run")
    page.goto(f"/runs/{run['id']}/logs")
    page.locator("pre.log").get_by_text("computing the total").first.wait_for()
    coloured = page.locator("pre.log span.ansi-31")
    assert coloured.count() >= 1
    page.get_by_label("Filter log lines").fill("computing the total")
    assert all(
        "computing the total" in line for line in page.locator("pre.log div").all_inner_texts()
    )
    screenshot(page, "log")


def test_cancel_a_running_run(page: Any, live: LiveServer, tmp_path: Path) -> None:
    """Stop with confirmation; the page learns the end from the stream's deltas, no reload."""
    execution = _execution(live, tmp_path, "ui-cancel", pause=120)
    run = live.api("POST", f"/executions/{execution['id']}/run")
    page.goto(f"/runs/{run['id']}")
    page.evaluate("window.notReloaded = true")
    summary = page.get_by_role("region", name="Run summary")
    summary.get_by_text(re.compile(r"[1-9] running")).wait_for()  # the long scenario started
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="Confirm").click()
    _wait_final(page)
    summary.get_by_text("canceled").wait_for()
    assert page.evaluate("window.notReloaded === true")
    assert page.evaluate("window.drover.streams[0].counts.snapshot") == 1
    assert page.evaluate("window.drover.streams[0].counts.delta") >= 1
    screenshot(page, "run-canceled")


def test_suspend_and_resume_a_run(page: Any, live: LiveServer, tmp_path: Path) -> None:
    """Suspend and resume from the page, each with confirmation; the page shows both live."""
    execution = _execution(live, tmp_path, "ui-suspend", pause=120)
    run = live.api("POST", f"/executions/{execution['id']}/run")
    page.goto(f"/runs/{run['id']}")
    summary = page.get_by_role("region", name="Run summary")
    summary.get_by_text(re.compile(r"[1-9] running")).wait_for()
    page.get_by_role("button", name="Suspend").click()
    page.get_by_role("button", name="Confirm").click()
    summary.locator(".status-suspended").wait_for()
    assert live.api("GET", f"/runs/{run['id']}")["suspended"] is True
    screenshot(page, "run-suspended")
    page.get_by_role("button", name="Resume").click()
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("button", name="Suspend").wait_for()
    assert summary.locator(".status-suspended").count() == 0
    assert live.api("GET", f"/runs/{run['id']}")["suspended"] is False
    # Done with it: terminate rather than wait two minutes.
    page.get_by_role("button", name="Terminate").click()
    page.get_by_role("button", name="Confirm").click()
    _wait_final(page)


def test_a_lost_stream_resumes_from_its_last_event_id(
    page: Any, live: LiveServer, tmp_path: Path
) -> None:
    """The connection drops mid-run: the page reconnects sending Last-Event-ID, the server
    resumes with deltas (no second snapshot), and the page ends with the run's final counts."""
    execution = _execution(live, tmp_path, "ui-resume", pause=5)
    run = live.api("POST", f"/executions/{execution['id']}/run")
    requests: list[Any] = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/events") else None)
    page.goto(f"/runs/{run['id']}")
    page.wait_for_function("() => window.drover.streams.some((s) => s.lastEventId)")
    seen = page.evaluate(
        "() => { const s = window.drover.streams[0]; s.drop(); return s.lastEventId; }"
    )
    page.wait_for_function("() => window.drover.streams[0].connections >= 2")
    assert len(requests) >= 2
    assert requests[1].all_headers().get("last-event-id") == seen
    assert page.evaluate("window.drover.streams[0].counts.snapshot") == 1
    # An id the service does not know (another process, too long ago): it answers with a new
    # snapshot, which the page takes in place of what it held.
    page.evaluate(
        "() => { const s = window.drover.streams[0]; s.lastEventId = 'elsewhere-1'; s.drop(); }"
    )
    page.wait_for_function("() => window.drover.streams[0].connections >= 3")
    assert requests[2].all_headers().get("last-event-id") == "elsewhere-1"
    page.wait_for_function("() => window.drover.streams[0].counts.snapshot === 2")
    _wait_final(page)
    final = live.api("GET", f"/runs/{run['id']}")
    progress = final["progress"]
    summary = page.get_by_role("region", name="Run summary")
    summary.get_by_text(f"{progress['passed']} passed · {progress['failed']} failed").wait_for()
    assert f"Phase: {final['phase']}" in summary.inner_text()


def test_runs_list_filters_by_verdict_and_execution(page: Any, live: LiveServer) -> None:
    runs = live.api("GET", "/runs?limit=500")["items"]
    if not any(r["verdict"] == "canceled" for r in runs):
        pytest.skip("needs the runs of the tests above")
    page.goto("/")
    page.locator("table").wait_for()
    # Failed and canceled (a canceled run's phase is Failed or Succeeded: not a phase filter).
    page.get_by_label("failed", exact=True).check()
    page.get_by_label("canceled").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"verdict=failed&verdict=canceled"))
    chosen = {r["id"] for r in runs if r["verdict"] in ("failed", "canceled")}
    page.wait_for_function(
        "n => document.querySelectorAll('tbody tr').length === n", arg=len(chosen)
    )
    assert set(page.locator("tbody tr td:first-child").all_inner_texts()) == chosen
    screenshot(page, "runs")
    # And one execution's runs among them.
    retried = next(r for r in runs if r["execution_name"] == "ui-retry")
    page.get_by_label("Execution").select_option(str(retried["execution_id"]))
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(rf"execution_id={retried['execution_id']}"))
    mine = {r["id"] for r in runs if r["id"] in chosen and r["execution_name"] == "ui-retry"}
    page.wait_for_function("n => document.querySelectorAll('tbody tr').length === n", arg=len(mine))
    assert set(page.locator("tbody tr td:first-child").all_inner_texts()) == mine


def test_runs_list_shows_the_servers_verdict(page: Any, live: LiveServer) -> None:
    """The page shows the API's ``verdict`` as it is (it never works one out): the canceled
    run above is canceled though its phase is Failed."""
    runs = live.api("GET", "/runs?limit=100")["items"]
    if not any(r["verdict"] == "canceled" for r in runs):
        pytest.skip("needs the canceled run of the tests above")
    page.goto("/")
    page.wait_for_function("n => document.querySelectorAll('tbody tr').length === n", arg=len(runs))
    shown = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text().strip()
        for row in page.locator("tbody tr").all()
    }
    assert shown == {r["id"]: r["verdict"] for r in runs}


def test_pipeline_page_shows_taken_and_skipped_branches(page: Any, live: LiveServer) -> None:
    document = yaml.safe_load((ROOT / "examples/pipelines/branching.yaml").read_text())
    # Its first job lasts long enough for the suspend below to land before the run has ended
    # (a finished run cannot be suspended).
    check = document["jobs"][0]["script"]
    check["source"] = "import time\ntime.sleep(2)\n" + check["source"]
    pipeline = live.api("POST", "/pipelines", json=document)
    run = live.api("POST", f"/pipelines/{pipeline['id']}/run", json={"parameters": {}})
    # Held until the page's stream has its snapshot: a run this short could otherwise end
    # before the stream's first read, and the stream would rightly send no delta at all.
    live.api("POST", f"/pipeline-runs/{run['id']}/suspend")
    page.goto(f"/pipeline-runs/{run['id']}")
    page.evaluate("window.notReloaded = true")
    page.wait_for_function("() => window.drover.streams[0]?.counts.snapshot === 1")
    live.api("POST", f"/pipeline-runs/{run['id']}/resume")
    page.get_by_text(re.compile(r"branch not taken")).first.wait_for()
    # The run's own phase (the header), not a job's: every job has its outcome by then.
    page.get_by_role("region", name="Pipeline run summary").get_by_text("Succeeded").wait_for()
    # Followed live over the pipeline run's stream: a snapshot, then deltas; never reloaded.
    assert page.evaluate("window.notReloaded === true")
    assert page.evaluate("window.drover.streams.length") == 1
    assert page.evaluate("window.drover.streams[0].counts.delta") >= 1
    jobs = page.locator(".job").all_inner_texts()
    assert any(text.startswith("scale-up") and "Succeeded" in text for text in jobs), jobs
    assert any(text.startswith("keep") and "branch not taken" in text for text in jobs), jobs
    # The job graph: each job's needs and the condition that chose its branch.
    report = page.locator(".job", has_text="needs scale-up, keep")
    report.wait_for()
    assert report.inner_text().startswith("report")
    keep = page.locator(".job", has_text="when !jobs.check.condition")
    assert keep.inner_text().startswith("keep")
    screenshot(page, "pipeline-run")
    page.goto("/pipelines")
    page.get_by_role("link", name=run["id"]).wait_for()
    screenshot(page, "pipelines")


def test_sign_in_from_the_address_fragment_as_drover_ui_opens_it(
    browser: Any, live: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live.url)
    form = context.new_page()
    form.goto("/login")
    form.get_by_label("Token").wait_for()
    screenshot(form, "login")
    form.close()
    page = context.new_page()
    page.goto(f"/login#token={ADMIN}")
    page.wait_for_url(f"{live.url}/")
    assert "token" not in page.url
    page.get_by_role("button", name="Sign out").wait_for()
    context.close()


def test_phone_width_and_keyboard(page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/executions")
    page.locator("table, p.muted").first.wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # The first Tab reaches the skip link, and it is visible when focused.
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    screenshot(page, "executions-phone")
