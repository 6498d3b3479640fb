"""Playwright discovery: ``playwright test --list --reporter=json`` in the project directory.

Listing needs no browser. The JSON report nests suites (files, then ``describe`` blocks) over
specs; a spec holds one test per Playwright project, and all of them run from one ``file:line``
filter, so each spec becomes one scenario. Report files are relative to ``config.rootDir``;
scenario ids are made relative to the project directory, where the agent runs Playwright.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.discovery.process import run_collector, tail
from engine.errors import DiscoveryError
from engine.spec import Scenario

__all__ = ["discover_playwright", "find_playwright", "parse_playwright_report"]

# Playwright's reporters join describe titles and the test title with a single right-pointing
# angle quotation mark.
TITLE_SEPARATOR = " \u203a "

INSTALL_HINT = (
    "install it in the project with 'npm install --save-dev @playwright/test' "
    "(listing tests needs no browser download)"
)


def find_playwright(project: Path) -> Path:
    """The project's own ``playwright`` executable, as npx would resolve it without downloading."""
    for directory in (project.resolve(), *project.resolve().parents):
        candidate = directory / "node_modules" / ".bin" / "playwright"
        if candidate.exists():
            return candidate
    raise DiscoveryError(f"Playwright is not installed in {project}: {INSTALL_HINT}")


def discover_playwright(project: Path) -> list[Scenario]:
    executable = find_playwright(project)
    done = run_collector([str(executable), "test", "--list", "--reporter=json"], project)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise DiscoveryError(
            f"Playwright could not list the tests in {project} (exit code {done.returncode}):\n"
            + tail(done.stdout + "\n" + done.stderr)
        ) from None
    return parse_playwright_report(report, project.resolve())


def parse_playwright_report(report: dict[str, Any], project: Path) -> list[Scenario]:
    """Scenarios from a JSON report; ``project`` is the absolute directory ids are relative to."""
    errors = report.get("errors") or []
    if errors:
        messages = "\n".join(str(e.get("message", e)) for e in errors[:10])
        raise DiscoveryError(f"Playwright reported errors while listing tests:\n{messages}")
    root = Path(report.get("config", {}).get("rootDir") or project)
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for titles, spec in _specs(report.get("suites", []), ()):
        file = Path(os.path.relpath(root / spec["file"], project)).as_posix()
        scenario_id = f"{file}:{spec['line']}"
        if scenario_id in seen:  # two specs on one line run together anyway
            continue
        seen.add(scenario_id)
        scenarios.append(
            Scenario(
                id=scenario_id,
                name=TITLE_SEPARATOR.join((*titles, spec["title"])),
                location=scenario_id,
                tags=[str(t).removeprefix("@") for t in spec.get("tags", [])],
            )
        )
    return scenarios


def _specs(
    suites: list[dict[str, Any]], titles: tuple[str, ...], depth: int = 0
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    for suite in suites:
        # The outermost suite of each file is titled with the file name: not part of test names.
        inner = titles if depth == 0 else (*titles, suite["title"])
        for spec in suite.get("specs", []):
            yield inner, spec
        yield from _specs(suite.get("suites", []), inner, depth + 1)
