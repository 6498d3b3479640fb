"""Playwright, batched: the tests of a batch selected exactly, results from the JSON reporter.

A scenario is one test of one Playwright project, named as Playwright's list reporter names it:
``[project] › file:line › describe › title`` (no ``[project] › `` part for an unnamed project),
with ``file`` relative to the workspace; or a serial group, which discovery keeps whole: a
describe block's title path (``[project] › file:line › describe``, the tests under it) or a
file (``[project] › file``). A batch runs in one Playwright process that gets the batch as a
``--test-list`` file (Playwright 1.56 and later), which selects tests by project, file and title
path: the same test in two projects, or tests declared in a loop on one line, stay apart.
Test-list paths are relative to the configuration's ``rootDir``, which a ``--list`` of the
batch's files tells once per workspace.

A plain ``file:line`` id (older plans, hand-written ones), a title Playwright's test-list syntax
cannot carry, or an older Playwright falls back to ``file:line`` filters, one process per
project (``--project``); such a filter runs every test on that line. A scenario naming several
tests combines their outcomes: failed if one failed, skipped if all were skipped.

A test's status is Playwright's verdict: ``expected`` and ``flaky`` (passed on one of
Playwright's own retries) pass, an expected failure (``test.fail``) that failed passes too,
``skipped`` (``test.skip``, ``test.fixme``, a serial group stopped by a failure) is skipped,
``unexpected`` (failed, timed out, or a ``test.fail`` that passed) fails. Attachments with a
path become artifacts.
"""

# Playwright names tests with "›" (U+203A) between titles; here it is meant, not ">".
# ruff: noqa: RUF001, RUF002, RUF003

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from drover_agent.results import Status
from drover_agent.runners.base import (
    BatchContext,
    BatchRun,
    Outcome,
    find_node_binary,
    missing_node_tool,
    run_process,
)

__all__ = [
    "PlaywrightAdapter",
    "ReportedTest",
    "ScenarioRef",
    "format_test_id",
    "outcome_for",
    "parse_playwright_json",
    "parse_test_id",
    "reported_tests",
]

MILLISECONDS = 1000.0
ERROR_TEXT_LIMIT = 4000
LIST_TIMEOUT_SECONDS = 300
# Playwright colours its error messages even in the JSON report.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
TITLE_SEPARATOR = " \u203a "
TEST_ID = re.compile(
    r"^(?:\[(?P<project>[^\]\u203a]*)\] \u203a )?(?P<file>.+?)(?::(?P<line>\d+))?"
    r"(?P<titles>(?: \u203a .*)?)$",
    re.DOTALL,
)
TEST_LIST_VERSION = (1, 56)
"""The first Playwright with ``--test-list``."""


@dataclass(frozen=True)
class ScenarioRef:
    """What a scenario id names: a project (``None``: any), a file, maybe a line, and the title
    path of a test or of a describe block (whose tests it then holds: a serial group). No
    titles: the tests on that line, or with no line either, every test of the file."""

    project: str | None
    file: str
    line: int | None
    titles: tuple[str, ...]

    @property
    def listable(self) -> bool:
        """Whether Playwright's test-list syntax (``›``-separated, trimmed) can carry it."""
        parts = [self.project or "", *self.titles]
        exact = bool(self.titles) or self.line is None
        return exact and all("\u203a" not in p and p == p.strip() for p in parts)

    def holds(self, test: ReportedTest) -> bool:
        """Whether ``test`` is (one of) the test(s) this id names; the line of a titled id is
        not compared, so a test that moved since the plan was made still matches."""
        if self.project is not None and self.project != test.project or self.file != test.file:
            return False
        if self.titles:
            return test.titles[: len(self.titles)] == self.titles
        return self.line is None or self.line == test.line


@dataclass(frozen=True)
class ReportedTest:
    """One test of one project in a JSON report, with its outcome."""

    project: str
    file: str
    line: int
    titles: tuple[str, ...]
    outcome: Outcome


def format_test_id(project: str, file: str, line: int | None, titles: Sequence[str]) -> str:
    """The scenario id of one test (or serial group), as discovery writes it."""
    head = f"[{project}]{TITLE_SEPARATOR}" if project else ""
    where = file if line is None else f"{file}:{line}"
    return head + where + "".join(TITLE_SEPARATOR + title for title in titles)


def parse_test_id(scenario_id: str) -> ScenarioRef | None:
    match = TEST_ID.match(scenario_id)
    if match is None:
        return None
    titles = match["titles"]
    return ScenarioRef(
        project=match["project"],
        file=match["file"],
        line=int(match["line"]) if match["line"] else None,
        titles=tuple(titles[len(TITLE_SEPARATOR) :].split(TITLE_SEPARATOR)) if titles else (),
    )


def reported_tests(report: dict[str, Any], workspace: Path) -> list[ReportedTest]:
    """Every test of every project in a JSON report, files relative to ``workspace``."""
    root = Path(report.get("config", {}).get("rootDir") or workspace)
    tests = []
    for titles, spec in _specs(report.get("suites", []), ()):
        file = Path(os.path.relpath(root / spec["file"], workspace)).as_posix()
        for test in spec.get("tests", []):
            project = str(test.get("projectName") or "")
            names = (*titles, spec["title"])
            tests.append(ReportedTest(project, file, int(spec["line"]), names, _test_outcome(test)))
    return tests


def outcome_for(scenario_id: str, tests: Sequence[ReportedTest]) -> Outcome | None:
    """The outcome of the test(s) a scenario id names; several (a serial group, a ``file:line``
    with a loop's tests, a file) combine: failed if any failed, skipped if all were skipped."""
    ref = parse_test_id(scenario_id)
    if ref is None:
        return None
    found = [t for t in tests if ref.holds(t)]
    if not found:
        return None
    if len(found) == 1:
        return found[0].outcome
    return _combine(found)


def parse_playwright_json(report: dict[str, Any], workspace: Path) -> dict[str, Outcome]:
    """Outcomes keyed by test id, and by ``file:line`` (every test on that line combined)."""
    tests = reported_tests(report, workspace)
    outcomes = {format_test_id(t.project, t.file, t.line, t.titles): t.outcome for t in tests}
    for location in dict.fromkeys(f"{t.file}:{t.line}" for t in tests):
        combined = outcome_for(location, tests)
        if combined is not None:
            outcomes[location] = combined
    return outcomes


def _specs(
    suites: list[dict[str, Any]], titles: tuple[str, ...], depth: int = 0
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    for suite in suites:
        # The outermost suite of each file is titled with the file name: not part of test names.
        inner = titles if depth == 0 else (*titles, suite["title"])
        for spec in suite.get("specs", []):
            yield inner, spec
        yield from _specs(suite.get("suites", []), inner, depth + 1)


def _test_outcome(test: dict[str, Any]) -> Outcome:
    results = test.get("results", [])
    verdict = test.get("status")
    if verdict in ("unexpected", "flaky") and len(results) > 1:
        # Playwright retried it: the last run is the outcome, the runs before it earlier
        # attempts (each failed, with its own error and attachments).
        last = _test_outcome({**test, "results": results[-1:]})
        earlier = tuple(_retry_outcome(test, r) for r in results[:-1])
        note = f"flaky: passed on retry {len(results) - 1}" if verdict == "flaky" else last.error
        return replace(last, error=note, earlier=earlier)
    duration = sum(float(r.get("duration") or 0) for r in results) / MILLISECONDS
    artifacts = _attachments(results)
    if verdict == "unexpected":
        return Outcome("failed", duration, _failure(test, results), artifacts)
    if verdict == "skipped" or (verdict == "expected" and test.get("expectedStatus") == "skipped"):
        return Outcome("skipped", duration, _skip_reason(test, results), artifacts)
    return Outcome("passed", duration, None, artifacts)


def _retry_outcome(test: dict[str, Any], result: dict[str, Any]) -> Outcome:
    """One run Playwright retried after: it failed (timed out, crashed, or a test.fail passed)."""
    duration = float(result.get("duration") or 0) / MILLISECONDS
    return Outcome("failed", duration, _failure(test, [result]), _attachments([result]))


def _attachments(results: list[dict[str, Any]]) -> list[str]:
    return [a["path"] for r in results for a in r.get("attachments", []) if a.get("path")]


def _failure(test: dict[str, Any], results: list[dict[str, Any]]) -> str:
    last = results[-1] if results else {}
    errors = [*(last.get("errors") or []), last.get("error") or {}]
    message = next((str(e["message"]) for e in errors if e.get("message")), None)
    if message is None:
        status = last.get("status")
        if test.get("expectedStatus") == "failed" and status == "passed":
            message = "expected to fail (test.fail), but passed"
        else:
            message = f"test {status or 'did not finish'}"
    return ANSI_ESCAPE.sub("", message)[:ERROR_TEXT_LIMIT]


def _skip_reason(test: dict[str, Any], results: list[dict[str, Any]]) -> str | None:
    annotations = [
        *test.get("annotations", []),
        *(a for r in results for a in r.get("annotations", [])),
    ]
    for annotation in annotations:
        if annotation.get("type") in ("skip", "fixme"):
            description = annotation.get("description")
            return f"{annotation['type']}: {description}" if description else annotation["type"]
    return None


def _combine(tests: list[ReportedTest]) -> Outcome:
    """Several tests under one scenario: the worst status, the summed time, the first error
    (named by its test's titles)."""
    outcomes = [t.outcome for t in tests]
    statuses = {o.status for o in outcomes}
    worst: Status = next((s for s in ("error", "failed", "passed") if s in statuses), "skipped")
    culprit = next((t for t in tests if t.outcome.status == worst and t.outcome.error), None)
    error = None
    if culprit is not None and worst in ("error", "failed"):
        error = f"{TITLE_SEPARATOR.join(culprit.titles)}: {culprit.outcome.error}"
        error = error[:ERROR_TEXT_LIMIT]
    # Retries of the tests inside stay in the combined outcome's time and artifacts.
    runs = [e for o in outcomes for e in (*o.earlier, o)]
    artifacts = [a for e in runs for a in e.artifacts]
    return Outcome(worst, sum(e.duration for e in runs), error, artifacts)


@dataclass(frozen=True)
class _Invocation:
    label: str
    scenario_ids: list[str]
    selection: list[str]
    """Arguments that select the tests: ``--test-list FILE``, or ``[--project P] file:line...``."""


class PlaywrightAdapter:
    kind = "playwright"
    retries_itself = True
    """Drover's retries become Playwright's own (``--retries``): each test stays one test in
    Playwright's report, its earlier runs its retries, as in an unsharded run."""

    def __init__(self, args: Sequence[str] = ()) -> None:
        self.args = list(args)
        self._root_dirs: dict[Path, Path | None] = {}

    def argv(
        self,
        executable: str,
        selection: Sequence[str],
        output_dir: str | None = None,
        retries: int = 0,
    ) -> list[str]:
        # ``list`` keeps a readable log; ``json`` goes to PLAYWRIGHT_JSON_OUTPUT_NAME, ``blob``
        # (Playwright's own machine report, merged per run) to PLAYWRIGHT_BLOB_OUTPUT_FILE.
        # Each process gets its own ``--output`` (test-results/): workers sharing a workspace
        # would otherwise clear each other's screenshots and traces.
        output = ["--output", output_dir] if output_dir else []
        retry = [f"--retries={retries}"] if retries else []
        return [
            executable,
            "test",
            *selection,
            "--reporter=list,json,blob",
            *output,
            *retry,
            *self.args,
        ]

    def run_batch(self, scenario_ids: Sequence[str], context: BatchContext) -> BatchRun:
        executable = find_node_binary(context.workspace, "playwright")
        missing = missing_node_tool(executable, context.workspace)
        if missing is not None:
            return BatchRun(problem=missing)
        batch = BatchRun()
        problems: list[str] = []
        invocations = self._invocations(executable, scenario_ids, context, batch)
        total = sum(len(i.scenario_ids) for i in invocations) or 1
        for invocation in invocations:
            name = f"playwright-a{context.attempt}-{invocation.label}"
            report = context.report_dir / f"{name}.json"
            report.unlink(missing_ok=True)
            blob = context.native_dir / f"playwright-blob-a{context.attempt}-{invocation.label}.zip"
            share = len(invocation.scenario_ids) / total
            done = run_process(
                self.argv(
                    executable,
                    invocation.selection,
                    str(context.raw_artifacts_dir / name),
                    context.retries,
                ),
                context.workspace,
                context.env,
                context.timeout * share if context.timeout else None,
                extra_env={
                    "PLAYWRIGHT_JSON_OUTPUT_NAME": str(report),
                    "PLAYWRIGHT_BLOB_OUTPUT_FILE": str(blob),
                },
            )
            document: dict[str, Any] = {}
            tests: list[ReportedTest] = []
            try:
                document = json.loads(report.read_text("utf-8"))
                tests = reported_tests(document, context.workspace)
            except (OSError, ValueError, KeyError, TypeError):
                pass
            for scenario_id in invocation.scenario_ids:
                outcome = outcome_for(scenario_id, tests)
                if outcome is not None:
                    batch.outcomes[scenario_id] = outcome
            missing = [s for s in invocation.scenario_ids if s not in batch.outcomes]
            if done.problem or done.exit_code not in (0, 1) or missing:
                problems.append(_problem(done.problem, done.exit_code, document, done.output_tail))
        if problems:
            batch.problem = "\n".join(dict.fromkeys(problems))
        return batch

    def _invocations(
        self,
        executable: str,
        scenario_ids: Sequence[str],
        context: BatchContext,
        batch: BatchRun,
    ) -> list[_Invocation]:
        refs = {s: parse_test_id(s) for s in dict.fromkeys(scenario_ids)}
        exact = [s for s, r in refs.items() if r is not None and r.listable]
        invocations: list[_Invocation] = []
        if exact and supports_test_list(executable):
            chosen = [r for s in exact if (r := refs[s]) is not None]
            root = self._root_dir(executable, context, sorted({r.file for r in chosen}))
            if root is not None:
                lines = [_test_list_line(r, root, context.workspace) for r in chosen]
                test_list = context.report_dir / f"playwright-a{context.attempt}-tests.txt"
                test_list.parent.mkdir(parents=True, exist_ok=True)
                test_list.write_text("\n".join(lines) + "\n", encoding="utf-8")
                invocations.append(_Invocation("list", exact, ["--test-list", str(test_list)]))
        listed = {s for i in invocations for s in i.scenario_ids}
        by_project: dict[str | None, dict[str, str]] = {}
        for scenario_id, ref in refs.items():
            if scenario_id in listed:
                continue
            if ref is None:
                batch.outcomes[scenario_id] = Outcome(
                    "error", 0.0, "not a Playwright test id ([project] › file:line › title)"
                )
                continue
            location = ref.file if ref.line is None else f"{ref.file}:{ref.line}"
            by_project.setdefault(ref.project or None, {})[scenario_id] = location
        for number, (project, locations) in enumerate(by_project.items()):
            chosen = [f"--project={project}"] if project else []
            selection = [*chosen, *dict.fromkeys(locations.values())]
            invocations.append(_Invocation(f"p{number}", list(locations), selection))
        return invocations

    def _root_dir(self, executable: str, context: BatchContext, files: list[str]) -> Path | None:
        """The configuration's ``rootDir`` (test-list paths are relative to it), or ``None``."""
        workspace = context.workspace.resolve()
        if workspace not in self._root_dirs:
            argv = [executable, "test", "--list", "--reporter=json", *self.args, *files]
            try:
                done = subprocess.run(
                    argv,
                    cwd=workspace,
                    env=dict(context.env),
                    capture_output=True,
                    text=True,
                    timeout=LIST_TIMEOUT_SECONDS,
                    check=False,
                )
                root = json.loads(done.stdout).get("config", {}).get("rootDir")
            except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError):
                root = None
            self._root_dirs[workspace] = Path(root) if root else None
        return self._root_dirs[workspace]


def _test_list_line(ref: ScenarioRef, root: Path, workspace: Path) -> str:
    file = Path(os.path.relpath(workspace.resolve() / ref.file, root)).as_posix()
    head = f"[{ref.project}]{TITLE_SEPARATOR}" if ref.project else ""
    return head + file + "".join(TITLE_SEPARATOR + t for t in ref.titles)


def _problem(
    problem: str | None, exit_code: int | None, report: dict[str, Any], output_tail: str
) -> str:
    if problem:
        return problem
    errors = [
        ANSI_ESCAPE.sub("", str(e.get("message") or e))
        for e in report.get("errors", []) or []
        if isinstance(e, dict)
    ]
    detail = "\n".join(errors[:5]) if errors else output_tail
    return f"playwright exited with code {exit_code} without reporting every test:\n{detail}"


def supports_test_list(executable: str) -> bool:
    """Whether the project's Playwright has ``--test-list``; an unknown version is assumed to."""
    version = playwright_version(executable)
    return version is None or version >= TEST_LIST_VERSION


def playwright_version(executable: str) -> tuple[int, int] | None:
    """Major and minor version of the package whose ``cli.js`` ``executable`` links to."""
    located = shutil.which(executable) or executable
    try:
        manifest = Path(located).resolve().parent / "package.json"
        version = str(json.loads(manifest.read_text("utf-8")).get("version", ""))
    except (OSError, ValueError, AttributeError):
        return None
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None
