"""Dispatch discovery to the collector of a runner kind."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from engine.discovery.cucumber_messages import discover_cucumber_js, find_cucumber_js
from engine.discovery.gherkin_features import discover_features
from engine.discovery.playwright_list import discover_playwright
from engine.discovery.pytest_collection import discover_pytest
from engine.errors import DiscoveryError

if TYPE_CHECKING:
    from engine.spec import Scenario

__all__ = ["DiscoveryRunner", "discover"]


class DiscoveryRunner(StrEnum):
    """Runners whose scenarios Drover can list (the ``command`` runner has no catalog)."""

    PYTEST = "pytest"
    CUCUMBER = "cucumber"
    PLAYWRIGHT = "playwright"


def discover(runner: DiscoveryRunner, project: Path, jobs: int | None = None) -> list[Scenario]:
    """The scenarios of the test project in ``project``, in the runner's order.

    ``jobs``: how many pytest processes collect side by side (default: one per core).
    """
    if not project.is_dir():
        raise DiscoveryError(f"{project}: not a directory; give the test project's root")
    if runner is DiscoveryRunner.PYTEST:
        return discover_pytest(project, jobs=jobs)
    if runner is DiscoveryRunner.CUCUMBER:
        # cucumber-js itself knows the profile's paths and filters; the parser is the fallback.
        cucumber_js = find_cucumber_js(project)
        if cucumber_js is not None:
            return discover_cucumber_js(project, cucumber_js)
        return discover_features(project)
    return discover_playwright(project)
