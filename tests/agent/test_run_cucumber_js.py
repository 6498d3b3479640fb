"""``drover-agent run`` through real cucumber-js, against what cucumber-js itself reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from xml.etree import ElementTree

from agent_plans import RunAgent, read_results, write_plan
from node_projects import CUCUMBER_JS, copy_project

from engine.discovery import DiscoveryRunner, discover


def cucumber_statuses(project: Path, state: Path) -> dict[str, str]:
    """cucumber-js's own verdict per scenario, from its JUnit formatter (a ``<failure>`` fails,
    ``<skipped>`` skips), keyed by the ``uri:line`` its JSON formatter gives the same scenario."""
    json_report, junit_report = state / "cucumber.json", state / "cucumber.xml"
    subprocess.run(
        [
            "node_modules/.bin/cucumber-js",
            *("--format", f"json:{json_report}", "--format", f"junit:{junit_report}"),
        ],
        cwd=project,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "FIXTURE_STATE_DIR": str(state)},
        capture_output=True,
        check=False,
        timeout=120,
    )
    elements = [
        (f"{feature['uri']}:{element['line']}", element["name"])
        for feature in json.loads(json_report.read_text())
        for element in feature["elements"]
    ]
    cases = list(ElementTree.parse(junit_report).getroot().iter("testcase"))
    assert len(cases) == len(elements)
    statuses = {}
    for (scenario_id, name), case in zip(elements, cases, strict=True):
        # The same scenarios in the same order (a testcase's name may lead with its rule's or
        # outline's, then an outline row's number).
        assert str(case.get("name")).endswith(name)
        verdict = (
            "failed" if case.find("failure") is not None
            else "skipped" if case.find("skipped") is not None else "passed"
        )  # fmt: skip
        statuses[scenario_id] = verdict
    return statuses


def run_shards(
    run_agent: RunAgent,
    project: Path,
    tmp_path: Path,
    workers: dict[str, list[str]],
    **runner: object,
) -> list[dict[str, object]]:
    plan = write_plan(
        tmp_path / "plan", runner={"kind": "cucumber", **runner}, workers=workers, path=str(project)
    )
    state = tmp_path / "agent-state"
    state.mkdir(exist_ok=True)
    results: list[dict[str, object]] = []
    for shard in workers:
        path = tmp_path / f"results-{shard}.json"
        run_agent(
            "run", "--plan-dir", str(plan), "--workspace", str(project), "--group", "main.all",
            "--shard", shard, "--results", str(path), "--report-dir", str(tmp_path / f"r{shard}"),
            env={"FIXTURE_STATE_DIR": str(state)},
        )  # fmt: skip
        results.extend(read_results(path)["results"])
    return results


def test_every_scenario_once_with_the_status_cucumber_gives_it(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = copy_project(CUCUMBER_JS, tmp_path / "project")
    scenarios = discover(DiscoveryRunner.CUCUMBER, project)
    ids = [s.id for s in scenarios]
    # cucumber-js's own dry run: the profile's paths leave fixtures/ out; outline rows apart.
    assert len(ids) == 15
    assert not [i for i in ids if i.startswith("fixtures/")]
    by_id = {s.id: s for s in scenarios}
    assert by_id["features/basket.feature:25"].tags == ["basket", "wrong"]
    assert by_id["features/basket.feature:32"].tags == ["basket", "discounts"]
    assert by_id["features/fr/panier.feature:13"].name == "ajouter 5 poires"

    tool_state = tmp_path / "tool-state"
    tool_state.mkdir()
    expected = cucumber_statuses(project, tool_state)
    results = run_shards(run_agent, project, tmp_path, {"0": ids[::2], "1": ids[1::2]})

    assert sorted(r["id"] for r in results) == sorted(ids)  # each exactly once
    assert {r["id"]: r["status"] for r in results} == expected
    error = {r["id"]: r["error"] or "" for r in results}
    assert expected["features/statuses.feature:26"] == "passed"  # cucumber's own retry passed
    # A Before hook returned 'skipped'; an After hook ran and passed: cucumber says skipped.
    assert expected["features/statuses.feature:30"] == "skipped"
    assert error["features/statuses.feature:30"].startswith(
        "Skipped (a hook or step returned 'skipped'): Before hook"
    )
    assert error["features/statuses.feature:3"].startswith(
        "Undefined step (no step definition matches it): When I do something nobody defined"
    )
    assert error["features/statuses.feature:7"].startswith("Pending step")
    assert error["features/statuses.feature:10"].startswith("Ambiguous step")
    assert error["features/statuses.feature:14"].startswith("Before hook")
    assert "Before hook broke" in error["features/statuses.feature:14"]
    assert error["features/statuses.feature:18"].startswith("After hook")
    assert "After hook broke" in error["features/statuses.feature:18"]
    assert error["features/basket.feature:25"].startswith("Then the basket holds 4 items (line")


def test_without_strict_undefined_and_pending_steps_skip_the_scenario(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = copy_project(CUCUMBER_JS, tmp_path / "project")
    ids = [
        "features/statuses.feature:3",
        "features/statuses.feature:7",
        "features/statuses.feature:10",
    ]
    results = run_shards(run_agent, project, tmp_path, {"0": ids}, args=["--no-strict"])
    assert {r["id"]: r["status"] for r in results} == {
        "features/statuses.feature:3": "skipped",
        "features/statuses.feature:7": "skipped",
        "features/statuses.feature:10": "failed",  # ambiguous fails a run either way
    }


def test_a_project_without_cucumber_js_says_what_to_install(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = tmp_path / "bare"
    (project / "features").mkdir(parents=True)
    results = run_shards(run_agent, project, tmp_path, {"0": ["features/a.feature:2"]})
    assert results[0]["status"] == "error"
    assert str(results[0]["error"]).startswith("cucumber-js is not installed")
    assert "npm ci" in str(results[0]["error"])


def test_a_stale_line_is_an_error_that_says_so(tmp_path: Path, run_agent: RunAgent) -> None:
    project = copy_project(CUCUMBER_JS, tmp_path / "project")
    ids = ["features/basket.feature:8", "features/basket.feature:9"]  # 9 is a step's line
    results = {r["id"]: r for r in run_shards(run_agent, project, tmp_path, {"0": ids})}
    assert results["features/basket.feature:8"]["status"] == "passed"
    assert results["features/basket.feature:9"]["status"] == "error"
    assert "ran no scenario at this line" in str(results["features/basket.feature:9"]["error"])
