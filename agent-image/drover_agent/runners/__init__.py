"""Runner adapters: one per runner kind, each building argument lists and reading its report."""

from __future__ import annotations

from drover_agent.plan import RunnerConfig
from drover_agent.runners.base import BatchContext, BatchRun, Outcome, RunnerAdapter
from drover_agent.runners.command import CommandAdapter
from drover_agent.runners.cucumber_json import CucumberAdapter
from drover_agent.runners.playwright_json import PlaywrightAdapter
from drover_agent.runners.pytest_session import PytestAdapter

__all__ = ["BatchContext", "BatchRun", "Outcome", "RunnerAdapter", "adapter_for"]


def adapter_for(runner: RunnerConfig, project_path: str | None = None) -> RunnerAdapter:
    """``project_path``: where the project was when its scenarios were discovered."""
    if runner.kind == "pytest":
        return PytestAdapter(runner.args, discovered_in=project_path)
    if runner.kind == "cucumber":
        return CucumberAdapter(runner.args)
    if runner.kind == "playwright":
        return PlaywrightAdapter(runner.args)
    return CommandAdapter(runner.command or [])
