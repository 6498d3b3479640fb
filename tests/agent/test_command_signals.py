"""The ``command`` runner: a process killed by a signal is an error that names the signal."""

from __future__ import annotations

from pathlib import Path

from agent_plans import RunAgent, read_results, write_plan


def test_a_killed_process_is_an_error_naming_the_signal(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    plan = write_plan(
        tmp_path / "plan",
        runner={"kind": "command", "command": ["sh", "-c", 'echo "ran $0"; kill -KILL $$', "{scenario}"]},
        workers={"0": ["doomed"]},
    )  # fmt: skip
    results = tmp_path / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(tmp_path), "--group", "main.all",
        "--shard", "0", "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 1
    (result,) = read_results(results)["results"]
    assert result["status"] == "error"
    assert result["error"] == "killed by signal SIGKILL\nran doomed"
