"""Playwright, batched: ``file:line`` filters, results read back from its JSON reporter.

A spec holds one test per Playwright project; the scenario's status combines them: failed if
any test ended unexpectedly, skipped if all were skipped, passed otherwise (a flaky test that
passed on Playwright's own retry counts as passed). Attachments with a path become artifacts.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from drover_agent.runners.base import (
    BatchContext,
    BatchRun,
    Outcome,
    find_node_binary,
    run_process,
)

__all__ = ["PlaywrightAdapter", "parse_playwright_json"]

MILLISECONDS = 1000.0
# Playwright colours its error messages even in the JSON report.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def parse_playwright_json(report: dict[str, Any], workspace: Path) -> dict[str, Outcome]:
    """Outcomes keyed by ``file:line`` with ``file`` relative to ``workspace``."""
    root = Path(report.get("config", {}).get("rootDir") or workspace)
    outcomes: dict[str, Outcome] = {}
    for spec in _specs(report.get("suites", [])):
        file = Path(os.path.relpath(root / spec["file"], workspace)).as_posix()
        outcomes[f"{file}:{spec['line']}"] = _spec_outcome(spec)
    return outcomes


def _specs(suites: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for suite in suites:
        yield from suite.get("specs", [])
        yield from _specs(suite.get("suites", []))


def _spec_outcome(spec: dict[str, Any]) -> Outcome:
    tests = spec.get("tests", [])
    results = [r for t in tests for r in t.get("results", [])]
    duration = sum(float(r.get("duration") or 0) for r in results) / MILLISECONDS
    artifacts = [a["path"] for r in results for a in r.get("attachments", []) if a.get("path")]
    statuses = [t.get("status") for t in tests]
    if "unexpected" in statuses:
        errors = [e for r in results for e in r.get("errors", []) or [r.get("error") or {}]]
        message = next((str(e.get("message")) for e in errors if e.get("message")), "failed")
        return Outcome("failed", duration, ANSI_ESCAPE.sub("", message)[:4000], artifacts)
    if statuses and all(s == "skipped" for s in statuses):
        return Outcome("skipped", duration, None, artifacts)
    return Outcome("passed", duration, None, artifacts)


class PlaywrightAdapter:
    kind = "playwright"

    def __init__(self, args: Sequence[str] = ()) -> None:
        self.args = list(args)

    def argv(self, executable: str, scenario_ids: Sequence[str]) -> list[str]:
        return [executable, "test", *scenario_ids, "--reporter=json", *self.args]

    def run_batch(self, scenario_ids: Sequence[str], context: BatchContext) -> BatchRun:
        report = context.report_dir / f"playwright-a{context.attempt}.json"
        report.unlink(missing_ok=True)
        executable = find_node_binary(context.workspace, "playwright")
        done = run_process(
            self.argv(executable, scenario_ids),
            context.workspace,
            context.env,
            context.timeout,
            extra_env={"PLAYWRIGHT_JSON_OUTPUT_NAME": str(report)},
        )
        batch = BatchRun()
        try:
            parsed = parse_playwright_json(json.loads(report.read_text("utf-8")), context.workspace)
        except (OSError, ValueError, KeyError):
            parsed = {}
        batch.outcomes = {s: parsed[s] for s in scenario_ids if s in parsed}
        if done.problem or done.exit_code not in (0, 1) or not parsed:
            batch.problem = done.problem or (
                f"playwright exited with code {done.exit_code}:\n{done.output_tail}"
            )
        return batch
