"""A facade the worker cannot reach never fails its shard: results file as without a facade,
queue mode falls back to the static shard, and the delay stays small."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from agent_plans import SHOP, RunAgent, read_results, write_plan

SCENARIOS = [
    "tests/cart/test_cart.py::test_empty_cart_totals_zero",
    "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros",  # fails
    "tests/catalog/test_catalog.py::test_unknown_sku_is_rejected",
]


def closed_port() -> int:
    """A port nothing listens on: connections to it are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shard_results(path: Path) -> list[tuple[str, str, int]]:
    return [(r["id"], r["status"], r["attempt"]) for r in read_results(path)["results"]]


@pytest.mark.parametrize("strategy", ["duration", "queue"])
def test_unreachable_facade_changes_nothing_but_a_warning(
    tmp_path: Path, run_agent: RunAgent, strategy: str
) -> None:
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": SCENARIOS, "1": []})
    group_file = plan / "main.all.json"
    group = json.loads(group_file.read_text())
    group["strategy"] = strategy
    group_file.write_text(json.dumps(group))
    args = ["run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--shard", "main.all/0"]

    baseline = run_agent(*args, "--results", str(tmp_path / "plain.json"))
    started = time.monotonic()
    cut_off = run_agent(
        *args,
        "--results",
        str(tmp_path / "cut-off.json"),
        env={
            "DROVER_FACADE_URL": f"http://127.0.0.1:{closed_port()}",
            "DROVER_RUN_ID": "run-1",
            "DROVER_TOKEN": "secret-token",
            "DROVER_WORKER": "pod-0",
        },
    )
    elapsed = time.monotonic() - started

    assert baseline.returncode == cut_off.returncode == 1, cut_off.stderr
    assert shard_results(tmp_path / "cut-off.json") == shard_results(tmp_path / "plain.json")
    assert [s for s, _, _ in shard_results(tmp_path / "cut-off.json")] == SCENARIOS
    assert "did not reach the facade" in cut_off.stderr
    assert "secret-token" not in cut_off.stdout + cut_off.stderr
    if strategy == "queue":
        assert "queue mode stopped" in cut_off.stderr
    assert elapsed < 15, f"an unreachable facade cost {elapsed:.1f} s"


def test_partial_facade_settings_mean_no_facade(tmp_path: Path, run_agent: RunAgent) -> None:
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": SCENARIOS[:1]})
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--shard", "main.all/0",
        "--results", str(tmp_path / "r.json"),
        env={"DROVER_FACADE_URL": f"http://127.0.0.1:{closed_port()}", "DROVER_RUN_ID": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "facade" not in done.stdout + done.stderr
