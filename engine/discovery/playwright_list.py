"""Playwright discovery: ``playwright test --list --reporter=json`` in the project directory.

Listing needs no browser. The JSON report nests suites (files, then ``describe`` blocks) over
specs, and a spec holds one test per Playwright project. Every test is one scenario, so the same
test in two projects, or several tests declared on one line (a loop), stay distinct. Its id is
what Playwright's own list reporter prints: ``[project] › file:line › describe › title``
(without the ``[project] › `` part when the project has no name), with ``file`` relative to
the project directory, where the agent runs Playwright. The agent selects the test by project,
file and titles (``--test-list``); the line only helps people find it.

Tests in serial mode (``test.describe.serial``, ``test.describe.configure({mode: 'serial'})``)
depend on each other: Playwright runs them in order in one worker, skips the rest after a
failure and retries them together. Split over workers they would pass alone, so each serial
group is one scenario: ``[project] › file:line › describe`` for a serial describe (its tests
are those under that title path), ``[project] › file`` for a serial file. A second reporter,
written next to the JSON one for the listing, finds the serial groups (the suites' own mode,
which the JSON report leaves out).
"""

# Playwright names tests with "›" (U+203A) between titles; here it is meant, not ">".
# ruff: noqa: RUF002, RUF003

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.discovery.process import run_collector, tail
from engine.errors import DiscoveryError

if TYPE_CHECKING:
    from engine.spec import Scenario

__all__ = [
    "discover_playwright",
    "find_playwright",
    "parse_playwright_report",
    "playwright_test_id",
]

# Playwright's reporters join describe titles and the test title with a single right-pointing
# angle quotation mark.
TITLE_SEPARATOR = " \u203a "

SERIAL_OUTPUT_VARIABLE = "DROVER_PLAYWRIGHT_SERIAL_GROUPS"
# A Playwright reporter (CommonJS, loaded by path) that writes the outermost serial suites of
# every project. The mode is a suite's internal ``_parallelMode``; without it nothing is found
# and every test stays its own scenario.
SERIAL_REPORTER = """\
const fs = require('fs');
class SerialGroups {
  onBegin(config, root) {
    const found = [];
    const visit = (suite) => {
      if (suite._parallelMode === 'serial' && suite.location) {
        const [, project, , ...titles] = suite.titlePath();
        found.push({ project, file: suite.location.file, line: suite.location.line, titles });
        return;
      }
      suite.suites.forEach(visit);
    };
    visit(root);
    fs.writeFileSync(process.env.OUTPUT_VARIABLE, JSON.stringify(found));
  }
  printsToStdio() { return false; }
}
module.exports = SerialGroups;
""".replace("OUTPUT_VARIABLE", SERIAL_OUTPUT_VARIABLE)

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
    with tempfile.TemporaryDirectory(prefix="drover-playwright-") as scratch:
        reporter = Path(scratch) / "serial-groups.cjs"
        reporter.write_text(SERIAL_REPORTER, encoding="utf-8")
        found = Path(scratch) / "serial-groups.json"
        done = run_collector(
            [str(executable), "test", "--list", f"--reporter=json,{reporter}"],
            project,
            env={**os.environ, SERIAL_OUTPUT_VARIABLE: str(found)},
        )
        try:
            serial = json.loads(found.read_text("utf-8")) if found.exists() else []
        except json.JSONDecodeError:
            serial = []
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise DiscoveryError(
            f"Playwright could not list the tests in {project} (exit code {done.returncode}):\n"
            + tail(done.stdout + "\n" + done.stderr)
        ) from None
    return parse_playwright_report(report, project.resolve(), serial)


def parse_playwright_report(
    report: dict[str, Any], project: Path, serial_groups: Sequence[dict[str, Any]] = ()
) -> list[Scenario]:
    """Scenarios from a JSON report; ``project`` is the absolute directory ids are relative to.

    ``serial_groups`` (``{"project", "file", "line", "titles"}`` with an absolute ``file``, as
    the serial-groups reporter writes them) each become one scenario in place of their tests.
    """
    from engine.spec import Scenario  # pydantic: loaded once scenarios are made

    errors = report.get("errors") or []
    if errors:
        messages = "\n".join(str(e.get("message", e)) for e in errors[:10])
        raise DiscoveryError(f"Playwright reported errors while listing tests:\n{messages}")
    root = Path(report.get("config", {}).get("rootDir") or project)
    groups = [_SerialGroup.of(g, project) for g in serial_groups]
    scenarios: dict[str, Scenario] = {}
    for titles, spec in _specs(report.get("suites", []), ()):
        file = Path(os.path.relpath(root / spec["file"], project)).as_posix()
        names = (*titles, spec["title"])
        tags = [str(t).removeprefix("@") for t in spec.get("tags", [])]
        for test in spec.get("tests") or [{}]:
            project_name = str(test.get("projectName") or "")
            group = next((g for g in groups if g.holds(project_name, file, names)), None)
            if group is not None:
                known = scenarios.get(group.id)
                scenarios[group.id] = Scenario(
                    id=group.id,
                    name=group.name,
                    location=group.location,
                    tags=list(dict.fromkeys([*(known.tags if known else []), *tags])),
                )
                continue
            scenario_id = playwright_test_id(project_name, file, int(spec["line"]), names)
            # Playwright refuses duplicate titles in a file, so an id repeats only if a report
            # lists a test twice.
            scenarios.setdefault(
                scenario_id,
                Scenario(
                    id=scenario_id,
                    name=(f"[{project_name}] " if project_name else "")
                    + TITLE_SEPARATOR.join(names),
                    location=f"{file}:{spec['line']}",
                    tags=list(dict.fromkeys(tags)),
                ),
            )
    return list(scenarios.values())


def playwright_test_id(project: str, file: str, line: int | None, titles: Sequence[str]) -> str:
    """``[project] › file:line › titles...``, as Playwright's list reporter names a test."""
    head = f"[{project}]{TITLE_SEPARATOR}" if project else ""
    where = file if line is None else f"{file}:{line}"
    return head + where + "".join(TITLE_SEPARATOR + title for title in titles)


class _SerialGroup:
    """A serial describe block or file of one project, and the tests it holds."""

    def __init__(self, project: str, file: str, line: int | None, titles: tuple[str, ...]):
        self.project, self.file, self.titles = project, file, titles
        self.line = line if titles else None
        self.id = playwright_test_id(project, file, self.line, titles)
        label = TITLE_SEPARATOR.join(titles) if titles else file
        self.name = (f"[{project}] " if project else "") + f"{label} (serial)"
        self.location = file if self.line is None else f"{file}:{self.line}"

    @classmethod
    def of(cls, found: dict[str, Any], project: Path) -> _SerialGroup:
        file = Path(os.path.relpath(Path(str(found.get("file"))), project)).as_posix()
        line = found.get("line")
        return cls(
            str(found.get("project") or ""),
            file,
            int(line) if line else None,
            tuple(str(t) for t in found.get("titles", [])),
        )

    def holds(self, project: str, file: str, titles: tuple[str, ...]) -> bool:
        return (
            project == self.project
            and file == self.file
            and titles[: len(self.titles)] == self.titles
            and len(titles) > len(self.titles)
        )


def _specs(
    suites: list[dict[str, Any]], titles: tuple[str, ...], depth: int = 0
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    for suite in suites:
        # The outermost suite of each file is titled with the file name: not part of test names.
        inner = titles if depth == 0 else (*titles, suite["title"])
        for spec in suite.get("specs", []):
            yield inner, spec
        yield from _specs(suite.get("suites", []), inner, depth + 1)
