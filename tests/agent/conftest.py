"""Fixtures of the agent tests."""

from __future__ import annotations

import pytest
from agent_plans import RunAgent, run_agent_process


@pytest.fixture
def run_agent() -> RunAgent:
    return run_agent_process


@pytest.fixture(autouse=True)
def _no_plugin_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example project needs no pytest plugins; loading this environment's own (hypothesis,
    # benchmark, ...) costs about a second in every pytest process the tests start.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
