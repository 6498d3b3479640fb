"""The ``command`` runner: literal arguments, retries, timeouts, test data, being stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agent_plans import AGENT_DIR, RunAgent, read_results, write_plan

# Records its arguments, then fails for ids starting with "bad", and for "flaky" the first time.
RECORDER = """
import json, os, sys
log, ids = sys.argv[1], sys.argv[2:]
with open(log, "a") as f:
    f.write(json.dumps({"argv": ids, "data": os.environ.get("SHOP_URL")}) + "\\n")
for i in ids:
    if i.startswith("bad"):
        sys.exit(3)
    if i == "flaky" and not os.path.exists(log + ".flaky"):
        open(log + ".flaky", "w").close()
        sys.exit(1)
"""


def run_shard(run_agent: RunAgent, plan: Path, results: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(plan.parent), "--group", "main.all",
        "--shard", "0", "--results", str(results), **kwargs,
    )  # fmt: skip


def logged(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_arguments_with_spaces_and_semicolons_pass_literally(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    log = tmp_path / "calls.log"
    tricky = "id with spaces; touch INJECTED $(touch INJECTED2) `x`"
    plan = write_plan(
        tmp_path / "plan",
        runner={
            "kind": "command",
            "command": [sys.executable, "-c", RECORDER, str(log), "--name={scenario}"],
        },
        workers={"0": [tricky]},
    )
    done = run_shard(
        run_agent, plan, tmp_path / "results.json", env={"SHOP_URL": "http://shop.test"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert logged(log) == [{"argv": [f"--name={tricky}"], "data": "http://shop.test"}]
    assert not list(tmp_path.rglob("INJECTED*"))


def test_batch_form_passes_every_id_as_its_own_argument(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    log = tmp_path / "calls.log"
    ids = ["a b", "c;d", "e"]
    plan = write_plan(
        tmp_path / "plan",
        runner={
            "kind": "command",
            "command": [sys.executable, "-c", RECORDER, str(log), "{scenarios}"],
        },
        workers={"0": ids},
    )
    results = tmp_path / "results.json"
    assert run_shard(run_agent, plan, results).returncode == 0
    assert logged(log) == [{"argv": ids, "data": None}]
    assert [r["status"] for r in read_results(results)["results"]] == ["passed"] * 3


def test_retries_rerun_only_failed_scenarios(tmp_path: Path, run_agent: RunAgent) -> None:
    log = tmp_path / "calls.log"
    plan = write_plan(
        tmp_path / "plan",
        runner={
            "kind": "command",
            "command": [sys.executable, "-c", RECORDER, str(log), "{scenario}"],
        },
        workers={"0": ["good", "flaky", "bad"]},
        retries=2,
    )
    results = tmp_path / "results.json"
    assert run_shard(run_agent, plan, results).returncode == 1
    calls = [c["argv"][0] for c in logged(log)]  # type: ignore[index]
    assert calls == ["good", "flaky", "bad", "flaky", "bad", "bad"]
    document = read_results(results)
    final = {r["id"]: (r["status"], r["attempt"]) for r in document["results"]}
    assert final == {"good": ("passed", 1), "flaky": ("passed", 2), "bad": ("failed", 3)}
    assert "exited with code 3" in document["results"][2]["error"]
    assert [(r["id"], r["attempt"]) for r in document["retried"]] == [
        ("flaky", 1),
        ("bad", 1),
        ("bad", 2),
    ]


def test_scenario_timeout_kills_the_runner_and_its_children(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {pid_file}; wait"
    plan = write_plan(
        tmp_path / "plan",
        runner={"kind": "command", "command": ["sh", "-c", script, "{scenario}"]},
        workers={"0": ["slow-one"]},
        scenario_timeout=2,  # time enough for the shell to start and write its child's pid
    )
    results = tmp_path / "results.json"
    started = time.monotonic()
    assert run_shard(run_agent, plan, results).returncode == 1
    assert time.monotonic() - started < 10
    (result,) = read_results(results)["results"]
    assert (result["status"], result["error"]) == (
        "error",
        "timed out after 2 s; the runner was killed",
    )
    assert not _alive(int(pid_file.read_text()))


def test_sigterm_still_writes_results(tmp_path: Path) -> None:
    started_file = tmp_path / "started"
    plan = write_plan(
        tmp_path / "plan",
        runner={
            "kind": "command",
            "command": ["sh", "-c", f"touch {started_file}; sleep 30", "{scenario}"],
        },
        workers={"0": ["long"]},
    )
    results = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(AGENT_DIR)}
    agent = subprocess.Popen(
        [sys.executable, "-m", "drover_agent", "run", "--plan-dir", str(plan), "--workspace",
         str(tmp_path), "--group", "main.all", "--shard", "0", "--results", str(results)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not started_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=10) == 143
    (result,) = read_results(results)["results"]
    assert result["status"] == "error"
    assert "the agent stopped" in result["error"]


@pytest.mark.parametrize("tee", [True, False], ids=["tee", "without-tee"])
def test_log_copy_keeps_every_line_and_sigterm_still_writes_results(
    tmp_path: Path, tee: bool
) -> None:
    """``--log``: the agent's and its runner's output go to stdout and to the file alike, through
    ``tee`` in the agent's own process (or, without ``tee`` on PATH, a copying parent); a SIGTERM
    to the pod's process group stops the agent, which still writes its results, and the copy
    keeps the lines up to its end."""
    started_file = tmp_path / "started"
    plan = write_plan(
        tmp_path / "plan",
        runner={
            "kind": "command",
            "command": ["sh", "-c", f"echo said-{{scenario}}; touch {started_file}; sleep 30",
                        "{scenario}"],
        },
        workers={"0": ["long"]},
    )  # fmt: skip
    results, log = tmp_path / "results.json", tmp_path / "logs" / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(AGENT_DIR)}
    if not tee:
        tools = tmp_path / "bin"
        tools.mkdir()
        for tool in ("sh", "sleep", "touch"):
            (tools / tool).symlink_to(str(shutil.which(tool)))
        env["PATH"] = str(tools)
    agent = subprocess.Popen(
        [sys.executable, "-m", "drover_agent", "run", "--plan-dir", str(plan), "--workspace",
         str(tmp_path), "--group", "main.all", "--shard", "0", "--results", str(results),
         "--log", str(log)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not started_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(agent.pid, signal.SIGTERM)  # as a runtime stops a pod: its whole process group
    output, _ = agent.communicate(timeout=20)
    assert agent.returncode == 143, output
    (result,) = read_results(results)["results"]
    assert result["status"] == "error" and "the agent stopped" in result["error"]
    assert "said-long" in output
    assert log.read_text() == output


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().rpartition(")")[2].split()[0] == "Z")
