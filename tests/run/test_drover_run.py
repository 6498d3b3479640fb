"""``drover run`` on the example project: real pytest in parallel workers, groups in order."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"
VERBOSE_LINE = re.compile(r"^(?P<id>tests/\S.*?) (?P<status>PASSED|FAILED|SKIPPED|ERROR)\b")


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DROVER_HOME"] = str(tmp_path / "home")
    # The example needs no pytest plugins; this environment's own cost ~1.7 s per process.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def drover(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip


def plain_pytest() -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        cwd=SHOP, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )  # fmt: skip
    found = [VERBOSE_LINE.match(line) for line in done.stdout.splitlines()]
    return {m["id"]: m["status"].lower() for m in found if m}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _get(name: str, env: dict[str, str]) -> dict[str, Any]:
    done = drover("get", name, "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_example_run_matches_plain_pytest(tmp_path: Path, run_env: dict[str, str]) -> None:
    results = tmp_path / "results.json"
    done = drover("run", str(SHOP / "execution.yaml"), "--results", str(results), env=run_env)
    assert done.returncode == 1, done.stdout + done.stderr  # one test fails on purpose
    assert "Traceback" not in done.stderr
    report = json.loads(results.read_text())

    # every scenario once, with the status plain pytest gives it
    statuses = {r["id"]: r["status"] for r in report["results"]}
    assert len(statuses) == len(report["results"]) == 24
    assert statuses == plain_pytest()
    assert report["counts"] == {"passed": 22, "failed": 1, "skipped": 1, "error": 0, "not_run": 0}
    assert {r["shard"] for r in report["results"] if r["group"] == "storefront.catalog"} <= {
        0,
        1,
        2,
    }

    # groups of a flow ran in order; the failed checkout group did not stop cart (continue)
    workflow = _get(report["workflow"], run_env)
    nodes = workflow["status"]["nodes"].values()
    pods = {n["displayName"]: n for n in nodes if n["type"] == "Pod"}
    # catalog fanned out over its 3 workers (which ran what is work stealing's: on two cores a
    # worker's pod may wait Pending and find its shard taken when it starts)
    assert sorted(k for k in pods if k.startswith("catalog(")) == [
        "catalog(0:0)(0)", "catalog(1:1)(0)", "catalog(2:2)(0)"
    ]  # fmt: skip
    smoke_end = max(_time(p["finishedAt"]) for k, p in pods.items() if k.startswith("smoke("))
    catalog_start = min(_time(p["startedAt"]) for k, p in pods.items() if k.startswith("catalog("))
    assert catalog_start >= smoke_end
    groups = {n["displayName"]: n["phase"] for n in nodes if n["type"] == "TaskGroup"}
    assert groups == {
        "smoke": "Succeeded",
        "catalog": "Succeeded",
        "checkout": "Failed",
        "cart": "Succeeded",
    }

    # the cleanup exit handler ran after everything and saw the workflow's status
    exit_node = next(n for n in nodes if n["name"].endswith(".onExit"))
    assert exit_node["phase"] == "Succeeded"
    logs = drover("logs", report["workflow"], exit_node["id"], env=run_env)
    assert f"status {workflow['status']['phase']}" in logs.stdout.lower() or (
        workflow["status"]["phase"].lower() in logs.stdout.lower()
    ), logs.stdout


def test_failed_group_halts_its_flow(tmp_path: Path, run_env: dict[str, str]) -> None:
    failing = "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros"
    passing = "tests/cart/test_cart.py::test_empty_cart_totals_zero"
    spec = {
        "name": "halting",
        "project": {"name": "shop", "path": str(SHOP)},
        "flows": [
            {
                "name": "first",
                "groups": [
                    {"name": "breaks", "scenarios": [{"id": failing}]},
                    {"name": "never", "scenarios": [{"id": passing}]},
                ],
            },
            {
                "name": "second",
                "groups": [
                    {
                        "name": "tolerant",
                        "continue_on_failure": True,
                        "scenarios": [{"id": f"{failing}x"}],
                    },  # unknown id: the runner errors
                    {
                        "name": "still",
                        "scenarios": [{"id": "tests/cart/test_cart.py::test_big_cart"}],
                    },
                ],
            },
        ],
    }
    path = tmp_path / "halting.yaml"
    path.write_text(yaml.safe_dump(spec))
    results = tmp_path / "results.json"
    done = drover("run", str(path), "--results", str(results), env=run_env)
    assert done.returncode == 1
    report = json.loads(results.read_text())
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id[failing]["status"] == "failed"
    assert by_id[passing]["status"] == "not_run"
    assert by_id[f"{failing}x"]["status"] == "error"
    assert by_id["tests/cart/test_cart.py::test_big_cart"]["status"] == "passed"
    workflow = _get(report["workflow"], run_env)
    phases = {n["displayName"]: n["phase"] for n in workflow["status"]["nodes"].values()}
    assert phases["never"] == "Omitted"
    assert phases["still"] == "Succeeded"


def test_a_project_under_tmp_runs_in_the_sandbox(tmp_path: Path, run_env: dict[str, str]) -> None:
    """Pods get a private /tmp, as containers do; setup-env still reads a project under /tmp
    through the read-only hostPath volume the compiler gives it."""
    project = tmp_path / "project"  # pytest's tmp_path lives under /tmp
    project.mkdir()
    (project / "test_here.py").write_text("def test_here():\n    assert True\n")
    spec = {
        "name": "under-tmp",
        "project": {"name": "here", "path": "project"},  # relative to the spec file
        "flows": [
            {
                "name": "only",
                "groups": [{"name": "one", "scenarios": [{"id": "test_here.py::test_here"}]}],
            }
        ],
    }
    path = tmp_path / "under-tmp.yaml"
    path.write_text(yaml.safe_dump(spec))
    results = tmp_path / "results.json"
    done = drover("run", str(path), "--results", str(results), env=run_env)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(results.read_text())
    assert [(r["id"], r["status"]) for r in report["results"]] == [
        ("test_here.py::test_here", "passed")
    ]


def test_a_run_started_beside_modules_named_like_the_standard_librarys(
    tmp_path: Path, run_env: dict[str, str]
) -> None:
    # The runner is a ``python -m`` process: started in the project's directory, it would
    # import the project's secrets.py instead of the standard library's. (The ``drover``
    # script, unlike ``python -m engine.cli``, does not put its working directory on sys.path.)
    project = tmp_path / "project"
    project.mkdir()
    (project / "secrets.py").write_text("raise SystemExit('the project secrets.py was imported')\n")
    (project / "test_ok.py").write_text("def test_ok():\n    pass\n")

    def drover_in_project(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("drover")), *args],
            cwd=project, capture_output=True, text=True, env=run_env, check=False, timeout=300,
        )  # fmt: skip

    found = drover_in_project("discover", "--runner", "pytest", ".", "--execution", "here")
    assert found.returncode == 0, found.stderr
    (project / "spec.yaml").write_text(found.stdout)
    done = drover_in_project("run", "spec.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
