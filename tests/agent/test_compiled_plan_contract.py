"""The agent runs exactly what the compiler planned: plan ConfigMaps → files → ``drover-agent``."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from agent_plans import SHOP, RunAgent, read_results

from engine.compiler import compile_plan
from engine.loading import load_execution
from engine.planning import plan_execution


def materialize(configmaps: list[dict[str, Any]], directory: Path) -> Path:
    """What a projected ConfigMap volume shows the pod: one file per key."""
    directory.mkdir(parents=True)
    for configmap in configmaps:
        for name, text in configmap.get("data", {}).items():
            (directory / name).write_text(text)
        for name, blob in configmap.get("binaryData", {}).items():
            (directory / name).write_bytes(base64.b64decode(blob))
    return directory


def test_worker_runs_its_planned_shard_and_writes_a_summary(
    tmp_path: Path, shop_execution_path: Path, run_agent: RunAgent
) -> None:
    plan = plan_execution(load_execution(shop_execution_path))
    compiled = compile_plan(plan)
    plan_dir = materialize(compiled.configmaps, tmp_path / "plan")
    group = next(g for g in plan.groups if g.key == "purchase.checkout")

    for index, planned in enumerate(group.workers):
        results, summary = tmp_path / f"r{index}.json", tmp_path / f"s{index}.json"
        done = run_agent(
            "run", "--plan-dir", str(plan_dir), "--workspace", str(SHOP),
            "--shard", f"{group.key}/{index}", "--attempt", "0",
            "--results", str(results), "--summary", str(summary),
        )  # fmt: skip
        document = read_results(results)
        assert [r["id"] for r in document["results"]] == [s.id for s in planned]
        counts = json.loads(summary.read_text())
        assert counts == document["counts"]
        failed = counts.get("failed", 0) + counts.get("error", 0)
        assert done.returncode == (1 if failed else 0), done.stderr


def test_mismatched_group_and_shard_is_a_plan_error(tmp_path: Path, run_agent: RunAgent) -> None:
    done = run_agent(
        "run", "--plan-dir", str(tmp_path), "--workspace", str(SHOP), "--group", "a.b",
        "--shard", "c.d/0", "--results", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert done.returncode == 2
    assert "different groups" in done.stderr
