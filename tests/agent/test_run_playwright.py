"""``drover-agent run`` through real Playwright (no browser), one scenario per project's test."""

# Playwright names tests with "›" (U+203A) between titles; here it is meant, not ">".
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent_plans import AGENT_DIR, RunAgent, read_results, write_plan
from node_projects import PLAYWRIGHT, copy_project

from engine.discovery import DiscoveryRunner, discover

CASES = "tests/unit/cases.pw.ts"
MODES = "tests/api/modes.pw.ts"
SERVED = "webserver/served.pw.ts"

# What Playwright's own JSON report says of each test of the fixture project (``status``:
# expected, flaky and test.fail that failed pass; skipped; unexpected fails). The serial
# group's tests (first passed, second failed, third skipped) are one scenario.
PLAYWRIGHT_VERDICTS = {
    f"[alpha] › {CASES}:6 › fixture value": "passed",
    f"[alpha] › {CASES}:10 › tagged @smoke in its title, and by option": "passed",
    f"[alpha] › {CASES}:16 › outer › inner @nested › deep": "passed",
    f"[alpha] › {CASES}:19 › outer › inner @nested › skipped deep": "skipped",
    f"[alpha] › {CASES}:22 › outer › loop 1": "passed",
    f"[alpha] › {CASES}:22 › outer › loop 2": "passed",
    f"[alpha] › {CASES}:22 › outer › loop 3": "failed",
    f"[alpha] › {CASES}:28 › fixme": "skipped",
    f"[alpha] › {CASES}:30 › expected failure": "passed",
    f"[alpha] › {CASES}:35 › expected failure that passes": "failed",
    f"[alpha] › {CASES}:39 › skipped in beta": "passed",
    f"[alpha] › {CASES}:43 › passes on retry": "passed",
    f"[alpha] › {CASES}:52 › times out": "failed",
    f"[alpha] › {MODES}:3 › serial": "failed",  # a serial group: one scenario
    f"[alpha] › {MODES}:12 › parallel › a > b": "passed",
    f"[alpha] › {MODES}:13 › parallel › alpha only @alpha-only": "passed",
    f"[alpha] › {MODES}:14 › parallel › request fixture": "passed",
    f"[beta] › {MODES}:3 › serial": "failed",  # a serial group: one scenario
    f"[beta] › {MODES}:12 › parallel › a > b": "passed",
    f"[beta] › {MODES}:14 › parallel › request fixture": "passed",
}


def test_each_test_of_each_project_is_one_scenario(tmp_path: Path) -> None:
    project = copy_project(PLAYWRIGHT, tmp_path / "project")
    scenarios = discover(DiscoveryRunner.PLAYWRIGHT, project)
    assert sorted(s.id for s in scenarios) == sorted(PLAYWRIGHT_VERDICTS)
    by_id = {s.id: s for s in scenarios}
    deep = by_id[f"[alpha] › {CASES}:16 › outer › inner @nested › deep"]
    assert (deep.name, deep.location, deep.tags) == (
        "[alpha] outer › inner @nested › deep",
        f"{CASES}:16",
        ["nested"],
    )
    assert by_id[f"[alpha] › {CASES}:10 › tagged @smoke in its title, and by option"].tags == [
        "smoke", "fast"
    ]  # fmt: skip


def test_results_equal_what_playwright_reports(tmp_path: Path, run_agent: RunAgent) -> None:
    project = copy_project(PLAYWRIGHT, tmp_path / "project")
    ids = list(PLAYWRIGHT_VERDICTS)
    # Shards cut through a loop's tests and through the same test's projects.
    workers = {"0": ids[::2], "1": ids[1::2]}
    plan = write_plan(
        tmp_path / "plan", runner={"kind": "playwright"}, workers=workers, path=str(project)
    )
    state = tmp_path / "state"
    state.mkdir()
    results = []
    for shard in workers:
        path = tmp_path / f"results-{shard}.json"
        done = run_agent(
            "run", "--plan-dir", str(plan), "--workspace", str(project), "--group", "main.all",
            "--shard", shard, "--results", str(path), "--report-dir", str(tmp_path / f"r{shard}"),
            env={"FIXTURE_STATE_DIR": str(state)},
        )  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout.count("--test-list") == 1  # one Playwright process per shard
        results.extend(read_results(path)["results"])

    assert sorted(r["id"] for r in results) == sorted(ids)  # each exactly once
    assert {r["id"]: r["status"] for r in results} == PLAYWRIGHT_VERDICTS
    error = {r["id"]: r["error"] or "" for r in results}
    assert error[f"[alpha] › {CASES}:43 › passes on retry"] == "flaky: passed on retry 1"
    assert error[f"[alpha] › {CASES}:35 › expected failure that passes"] == (
        "expected to fail (test.fail), but passed"
    )
    assert "Test timeout of 200ms exceeded" in error[f"[alpha] › {CASES}:52 › times out"]
    assert error[f"[alpha] › {CASES}:28 › fixme"] == "fixme"
    assert error[f"[beta] › {MODES}:3 › serial"].startswith("serial › second fails: Error:")


def test_file_line_ids_still_run_every_test_on_their_line(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = copy_project(PLAYWRIGHT, tmp_path / "project")
    ids = [f"{CASES}:22", f"[beta] › {MODES}:12"]  # a loop's line; one project's test by line
    plan = write_plan(
        tmp_path / "plan", runner={"kind": "playwright"}, workers={"0": ids}, path=str(project)
    )
    results_path = tmp_path / "results.json"
    run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(project), "--group", "main.all",
        "--shard", "0", "--results", str(results_path), "--report-dir", str(tmp_path / "r"),
    )  # fmt: skip
    results = {r["id"]: r for r in read_results(results_path)["results"]}
    assert results[f"{CASES}:22"]["status"] == "failed"  # loop 3 fails
    assert results[f"[beta] › {MODES}:12"]["status"] == "passed"


def test_each_worker_starts_the_web_server_on_its_own_port(tmp_path: Path) -> None:
    # Two workers of one host at the same time, each with a test that needs the project's web
    # server (Playwright's webServer, on the port PORT names) and holds on until the other
    # worker's test runs too: on one port, one of the two servers could not start.
    project = copy_project(PLAYWRIGHT, tmp_path / "project")
    workers = {shard: [f"{SERVED}:8 › worker {shard} is served on its own port"] for shard in "01"}
    plan = write_plan(
        tmp_path / "plan",
        runner={"kind": "playwright", "args": ["--config", "webserver.config.ts"]},
        workers=workers,
        path=str(project),
    )
    state = tmp_path / "state"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "DROVER_PORT")}
    env.update(PYTHONPATH=str(AGENT_DIR), FIXTURE_STATE_DIR=str(state))
    agents = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "drover_agent", "run", "--plan-dir", str(plan)),
                *("--workspace", str(project), "--group", "main.all", "--shard", shard),
                *("--results", str(tmp_path / f"results-{shard}.json")),
                *("--report-dir", str(tmp_path / f"r{shard}")),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for shard in workers
    ]
    outputs = [agent.communicate(timeout=180)[0] for agent in agents]
    for shard, agent, output in zip(workers, agents, outputs, strict=True):
        assert agent.returncode == 0, output
        (result,) = read_results(tmp_path / f"results-{shard}.json")["results"]
        assert (result["id"], result["status"]) == (workers[shard][0], "passed"), result
    # What each test saw: PORT, and DROVER_PORT, the same, and not the other worker's.
    seen = [(state / f"serving-{shard}").read_text().split() for shard in workers]
    assert all(port == drover_port for port, drover_port in seen)
    assert seen[0] != seen[1]
