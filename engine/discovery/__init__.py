"""Scenario discovery: list the scenarios of a real test project, the way its runner sees them.

- pytest: pytest's own collection, run in the project directory (ids are pytest node ids);
- cucumber: cucumber-js's own dry run when the project has it installed (its profile's paths
  and filters apply), else the official Gherkin parser over ``.feature`` files (ids are
  ``path:line``, one per scenario and one per Scenario Outline example row);
- playwright: ``playwright test --list --reporter=json`` (ids are
  ``[project] › file:line › describe › title``, one per test of each project; a serial group
  is one scenario).

:func:`discover` runs the right collector; :func:`execution_document` wraps the scenarios into a
complete Execution (one flow, one group) that :func:`engine.loading.parse_execution` accepts.
Failures raise :class:`engine.errors.DiscoveryError` with the runner's own message.
"""

# ruff: noqa: RUF002

from __future__ import annotations

from engine.discovery.collect import DiscoveryRunner, discover
from engine.discovery.document import execution_document, scenario_entries
from engine.discovery.gherkin_features import parse_feature
from engine.discovery.playwright_list import parse_playwright_report
from engine.discovery.pytest_collection import parse_collected_items

__all__ = [
    "DiscoveryRunner",
    "discover",
    "execution_document",
    "parse_collected_items",
    "parse_feature",
    "parse_playwright_report",
    "scenario_entries",
]
