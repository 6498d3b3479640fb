"""Queue mode beats static plans when the planner does not know the durations (the real lease
logic against Postgres, at simulated time; see bench/queue_makespan.py)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from bench.queue_makespan import compare, make_suite
from engine.sharding import ShardItem
from tests.api.test_run_e2e import SHOP


@pytest.fixture
def sessions(client: TestClient) -> Any:
    return client.app.state.service.sessions  # type: ignore[attr-defined]


def test_example_suite_with_unknown_durations(sessions: Any) -> None:
    spec = yaml.safe_load((SHOP / "execution.yaml").read_text())
    items = [ShardItem(id=s["id"], duration=s.get("duration") or 0.1) for s in spec["scenarios"]]
    real = {i.id: float(i.duration or 0.1) for i in items}
    figures = compare(sessions, items, real, known=False, threads=3)
    assert figures["queue"] < 0.9 * figures["lpt"]
    assert figures["queue"] < 0.9 * figures["round_robin"]
    assert figures["queue"] >= figures["lower_bound"] - 1e-9


def test_drifting_estimates_queue_at_most_static_lpt(sessions: Any) -> None:
    items, real = make_suite(120, seed=3)
    figures = compare(sessions, items, real, known=True)
    assert figures["queue"] <= figures["lpt"] + 1e-9
    assert figures["queue"] < figures["round_robin"]
