"""The run's reports, out of every worker's kept reports (the exit handler's job on Argo).

``merge_run_reports`` reads the workers' kept reports (``.tgz`` files or directories, see
:mod:`drover_agent.kept`) and writes into ``out``::

    junit.xml               the run's JUnit XML (:mod:`drover_agent.junit`)
    playwright/index.html   Playwright's HTML report: its blob reports through the project's own
                            ``playwright merge-reports`` (report.json beside it: the same, as JSON)
    cucumber/index.html     cucumber's HTML report: the merged messages (messages.ndjson beside
                            it) rendered by the project's own ``@cucumber/html-formatter``
    index.json              which of these exist, and what went wrong making the others

pytest has no HTML report: the run's JUnit XML is the report (every CI reads it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from drover_agent.cucumber_messages import merge_messages
from drover_agent.junit import cases_from_shard_reports, write_junit
from drover_agent.kept import NATIVE
from drover_agent.runners.base import find_node_binary, missing_node_tool

__all__ = ["MergeSummary", "WorkerResults", "merge_run_reports", "read_results", "unpack_workers"]

TOOL_TIMEOUT = 600
CUCUMBER_HTML = Path(__file__).with_name("cucumber_html.mjs")


@dataclass
class MergeSummary:
    reports: dict[str, str] = field(default_factory=dict)
    """Kind (junit, playwright, cucumber) → path in ``out``."""
    problems: list[str] = field(default_factory=list)
    scenarios: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "reports": self.reports, "problems": self.problems}


def unpack_workers(source: Path, target: Path) -> list[Path]:
    """Every worker's kept reports under ``source`` as directories under ``target``."""
    found: list[Path] = []
    if not source.is_dir():
        return found
    for number, entry in enumerate(sorted(source.rglob("*"))):
        if entry.is_file() and entry.name.endswith((".tgz", ".tar.gz")):
            directory = target / f"w{number}"
            directory.mkdir(parents=True)
            try:
                with tarfile.open(entry, "r:gz") as tar:
                    tar.extractall(directory, filter="data")
            except (OSError, tarfile.TarError):
                continue
            found.append(directory)
        elif entry.is_file() and entry.name == "results.json":
            found.append(entry.parent)
    return found


class WorkerResults(NamedTuple):
    """The workers' ``results.json`` documents, read once for the summary and the merge."""

    documents: list[dict[str, Any]]
    problems: list[str]
    """One line for each worker that has no readable results.json."""


def read_results(workers: list[Path]) -> WorkerResults:
    results = WorkerResults([], [])
    for worker in workers:
        try:
            results.documents.append(json.loads((worker / "results.json").read_text("utf-8")))
        except (OSError, ValueError):
            results.problems.append(f"{worker.name}: no readable results.json")
    return results


def merge_run_reports(
    workers: list[Path],
    results: WorkerResults,
    out: Path,
    *,
    name: str,
    workspace: Path | None,
    env: Mapping[str, str],
) -> MergeSummary:
    """The run's reports out of the ``workers``' kept reports and their ``results``."""
    out.mkdir(parents=True, exist_ok=True)
    summary = MergeSummary(problems=list(results.problems))
    cases = cases_from_shard_reports(results.documents)
    with (out / "junit.xml").open("w", encoding="utf-8") as handle:
        summary.scenarios = write_junit(handle, cases, name=name).tests
    summary.reports["junit"] = "junit.xml"
    natives = [p for w in workers for p in sorted((w / NATIVE).glob("*")) if p.is_file()]
    blobs = [p for p in natives if p.name.startswith("playwright-blob-")]
    messages = [p for p in natives if p.name.startswith("cucumber-messages-")]
    project = workspace if workspace is not None and workspace.is_dir() else Path.cwd()
    if blobs:
        _merge_playwright(blobs, out / "playwright", project, env, summary)
    if messages:
        _merge_cucumber(messages, out / "cucumber", project, env, summary)
    (out / "index.json").write_text(json.dumps(summary.to_json(), indent=1) + "\n")
    return summary


def _merge_playwright(
    blobs: list[Path], target: Path, project: Path, env: Mapping[str, str], summary: MergeSummary
) -> None:
    executable = find_node_binary(project, "playwright")
    missing = missing_node_tool(executable, project)
    if missing is not None:
        summary.problems.append(f"playwright report: {missing}")
        return
    with tempfile.TemporaryDirectory(prefix="drover-blobs-") as scratch:
        for number, blob in enumerate(blobs):
            shutil.copyfile(blob, Path(scratch) / f"{number:05d}-{blob.name}")
        target.mkdir(parents=True, exist_ok=True)
        done = _run(
            [executable, "merge-reports", "--reporter=html,json", scratch],
            project,
            {
                **env,
                "PLAYWRIGHT_HTML_OUTPUT_DIR": str(target),
                "PLAYWRIGHT_HTML_OPEN": "never",
                "PLAYWRIGHT_JSON_OUTPUT_NAME": str(target / "report.json"),
            },
        )
    if (target / "index.html").is_file():
        summary.reports["playwright"] = "playwright/index.html"
    else:
        summary.problems.append(f"playwright merge-reports wrote no report: {done}")


def _merge_cucumber(
    files: list[Path], target: Path, project: Path, env: Mapping[str, str], summary: MergeSummary
) -> None:
    target.mkdir(parents=True, exist_ok=True)
    merged = target / "messages.ndjson"
    with merged.open("w", encoding="utf-8") as handle:
        merge_messages(files, handle)
    summary.reports["cucumber-messages"] = "cucumber/messages.ndjson"
    node = shutil.which("node", path=env.get("PATH"))
    if node is None:
        summary.problems.append("cucumber report: node is not installed")
        return
    html = target / "index.html"
    done = _run([node, str(CUCUMBER_HTML), str(project), str(merged), str(html)], project, env)
    if html.is_file() and html.stat().st_size:
        summary.reports["cucumber"] = "cucumber/index.html"
    else:
        summary.problems.append(f"cucumber HTML report not written: {done}")


def _run(argv: list[str], cwd: Path, env: Mapping[str, str]) -> str:
    """Run a report tool; what it said when it failed ('' when it succeeded)."""
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return ""
    return f"exit code {done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}"
