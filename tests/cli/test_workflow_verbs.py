"""``drover submit/list/logs`` on the local runner, through real ``drover`` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pod(name: str, script: str) -> dict[str, Any]:
    return {"name": name, "container": {"image": "alpine", "command": ["sh", "-c", script]}}


WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "verbs-"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "fine", "template": "ok"},
                        {"name": "again", "template": "ok"},
                        {"name": "flaky", "template": "retried", "depends": "fine"},
                        {"name": "boom", "template": "fail", "depends": "fine"},
                    ]
                },
            },
            _pod("ok", "echo fine"),
            {**_pod("retried", "echo attempt; exit 1"), "retryStrategy": {"limit": 1}},
            _pod("fail", "echo about to fail; exit 3"),
        ],
    },
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DROVER_HOME": str(tmp_path / "home")}


def drover(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip


@pytest.fixture
def failed(tmp_path: Path, env: dict[str, str]) -> tuple[str, subprocess.CompletedProcess[str]]:
    """A workflow that failed, submitted with ``--wait``: its name and the submit's output."""
    path = tmp_path / "workflow.yaml"
    path.write_text(yaml.safe_dump(WORKFLOW))
    done = drover("submit", str(path), "--wait", env=env)
    return done.stdout.strip(), done


def test_submit_wait_reports_a_failure_and_exits_1(
    failed: tuple[str, subprocess.CompletedProcess[str]],
) -> None:
    name, done = failed
    assert done.returncode == 1, done.stderr
    assert done.stdout == f"{name}\n"  # stdout stays the name, for scripts
    assert f"{name} Failed" in done.stderr
    assert "boom Failed: main: Error (exit code 3)" in done.stderr
    assert "flaky(0) Failed" in done.stderr and "flaky(1) Failed" in done.stderr
    assert " fine " not in done.stderr  # only what failed


def test_submit_wide_shows_phase_duration_and_message(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text(yaml.safe_dump(WORKFLOW))
    done = drover("submit", str(path), "--wait", "-o", "wide", env=env)
    assert done.returncode == 1
    header = next(line for line in done.stdout.splitlines() if "NAME" in line)
    for column in ("STATUS", "DURATION", "MESSAGE"):
        assert column in header
    row = next(line for line in done.stdout.splitlines() if "verbs-" in line and "Failed" in line)
    assert any(cell.strip().endswith("s") for cell in row.split("│")[1:-1])  # the duration
    # A failed DAG leaves the workflow no message of its own (Argo's operate takes the
    # entrypoint node's, which executeDAG marks without one): the failed node says why.
    assert row.split("│")[-2].strip() == ""
    assert "boom Failed: main: Error (exit code 3)" in done.stdout


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ("boom", ["boom: about to fail"]),  # a task's display name
        ("fail", ["boom: about to fail"]),  # the template only boom uses
        ("flaky", ["flaky(0): attempt", "flaky(1): attempt"]),  # a retry: every attempt
        ("flaky(1)", ["flaky(1): attempt"]),
    ],
)
def test_logs_of_a_node_by_any_of_its_names(
    failed: tuple[str, subprocess.CompletedProcess[str]],
    env: dict[str, str],
    node: str,
    expected: list[str],
) -> None:
    name, _ = failed
    done = drover("logs", name, node, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected


def test_logs_of_a_node_id(
    failed: tuple[str, subprocess.CompletedProcess[str]], env: dict[str, str]
) -> None:
    name, _ = failed
    workflow = yaml.safe_load(drover("get", name, "-o", "yaml", env=env).stdout)
    boom = next(n for n in workflow["status"]["nodes"].values() if n["displayName"] == "boom")
    assert drover("logs", name, boom["id"], env=env).stdout == "boom: about to fail\n"


def test_logs_of_a_shared_template_lists_the_candidates(
    failed: tuple[str, subprocess.CompletedProcess[str]], env: dict[str, str]
) -> None:
    name, _ = failed
    done = drover("logs", name, "ok", env=env)
    assert done.returncode == 2
    assert "'ok' names 2 nodes" in done.stderr
    assert "fine (" in done.stderr and "again (" in done.stderr
    missing = drover("logs", name, "nope", env=env)
    assert missing.returncode == 1 and "no node 'nope'" in missing.stderr


def test_list_in_a_pipe_prints_whole_names(tmp_path: Path, env: dict[str, str]) -> None:
    long_prefix = "a-workflow-name-longer-than-any-terminal-" + "x" * 60 + "-"
    path = tmp_path / "workflow.yaml"
    path.write_text(yaml.safe_dump({**WORKFLOW, "metadata": {"generateName": long_prefix}}))
    name = drover("submit", str(path), "--wait", env=env).stdout.strip()
    assert name.startswith(long_prefix)
    listed = drover("list", env={k: v for k, v in env.items() if k != "COLUMNS"})
    assert any(name in line and "Failed" in line for line in listed.stdout.splitlines())


def test_resume_and_stop_one_suspend_node_by_a_node_field_selector(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """``argo resume/stop --node-field-selector``: only the matching suspend node ends."""
    gates = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "gates"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "approve", "template": "gate"},
                            {"name": "deny", "template": "gate"},
                        ]
                    },
                },
                {"name": "gate", "suspend": {}},
            ],
        },
    }
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump(gates))
    assert drover("submit", str(path), env=env).returncode == 0
    wrong = drover("resume", "gates", "--node-field-selector", "displayName", env=env)
    assert wrong.returncode == 1
    assert "invalid selector: 'displayName'" in wrong.stderr + wrong.stdout
    for _ in range(100):  # the runner starts the suspend nodes
        got = drover("resume", "gates", "--node-field-selector", "displayName=approve", env=env)
        if got.returncode == 0:
            break
    assert got.returncode == 0, got.stderr
    stop = ["stop", "gates", "--node-field-selector", "displayName=deny", "--message", "no"]
    assert drover(*stop, env=env).returncode == 0
    for _ in range(50):
        status = json.loads(drover("get", "gates", "-o", "json", env=env).stdout)["status"]
        if status.get("phase") in ("Failed", "Succeeded"):
            break
    nodes = {n["displayName"]: n for n in status["nodes"].values()}
    assert nodes["approve"]["phase"] == "Succeeded"
    assert (nodes["deny"]["phase"], nodes["deny"]["message"]) == ("Failed", "no")
    assert status["phase"] == "Failed"


def test_set_gives_a_suspend_node_its_supplied_output(tmp_path: Path, env: dict[str, str]) -> None:
    """``argo node set``: a supplied output set, then the workflow resumed, its value passed on;
    a resume before it is refused (no default), as is a malformed ``-p``."""
    approval = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "approval"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [{"name": "approve", "template": "gate"}],
                        [
                            {
                                "name": "use",
                                "template": "echo",
                                "arguments": {
                                    "parameters": [
                                        {
                                            "name": "m",
                                            "value": "{{steps.approve.outputs.parameters.answer}}",
                                        }
                                    ]
                                },
                            }
                        ],
                    ],
                },
                {
                    "name": "gate",
                    "suspend": {},
                    "outputs": {"parameters": [{"name": "answer", "valueFrom": {"supplied": {}}}]},
                },
                {
                    **_pod("echo", "echo {{inputs.parameters.m}}"),
                    "inputs": {"parameters": [{"name": "m"}]},
                },
            ],
        },
    }
    path = tmp_path / "approval.yaml"
    path.write_text(yaml.safe_dump(approval))
    assert drover("submit", str(path), env=env).returncode == 0
    selector = ["--node-field-selector", "displayName=approve"]
    for _ in range(100):  # the runner starts the suspend node
        early = drover("resume", "approval", env=env)
        if "has not been set" in early.stderr + early.stdout:
            break
    assert early.returncode == 1
    bad = drover("set", "approval", *selector, "-p", "answer", env=env)
    assert bad.returncode != 0 and "--output-parameter" in bad.stderr + bad.stdout
    assert drover("set", "approval", *selector, "-p", "answer=yes", env=env).returncode == 0
    assert drover("resume", "approval", env=env).returncode == 0
    for _ in range(100):
        status = json.loads(drover("get", "approval", "-o", "json", env=env).stdout)["status"]
        if status.get("phase") in ("Failed", "Succeeded", "Error"):
            break
    assert status["phase"] == "Succeeded"
    logs = drover("logs", "approval", "use", env=env)
    assert "yes" in logs.stdout
