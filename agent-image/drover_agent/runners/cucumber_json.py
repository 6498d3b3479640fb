"""cucumber-js, batched: ``path:line`` arguments, results read back from its JSON formatter.

The JSON formatter lists features (``uri``) with elements (scenarios, one per outline example
row) whose ``line`` is the scenario's line, or the example row's line for outlines: exactly the
``path:line`` id discovery produced. A scenario failed when a step or hook failed, or was
undefined, ambiguous or pending (cucumber-js treats those as failures by default); it was skipped
when every step was skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from drover_agent.runners.base import (
    BatchContext,
    BatchRun,
    Outcome,
    find_node_binary,
    run_process,
)

__all__ = ["CucumberAdapter", "parse_cucumber_json"]

NANOSECONDS = 1e9
FAILING_STEPS = frozenset({"failed", "undefined", "ambiguous", "pending"})


def parse_cucumber_json(report: list[dict[str, Any]]) -> dict[str, Outcome]:
    """Outcomes keyed by ``uri:line`` of each scenario element."""
    outcomes: dict[str, Outcome] = {}
    for feature in report:
        uri = PurePosixPath(str(feature.get("uri", ""))).as_posix()
        for element in feature.get("elements", []):
            if element.get("type", "scenario") != "scenario":
                continue  # a background element holds steps already counted in its scenario
            outcomes[f"{uri}:{element.get('line')}"] = _element_outcome(element)
    return outcomes


def _element_outcome(element: dict[str, Any]) -> Outcome:
    steps = [*element.get("before", []), *element.get("steps", []), *element.get("after", [])]
    results = [s.get("result", {}) for s in steps]
    duration = sum(float(r.get("duration") or 0) for r in results) / NANOSECONDS
    for result in results:
        status = result.get("status")
        if status in FAILING_STEPS:
            message = result.get("error_message") or f"a step is {status}"
            return Outcome("failed", duration, str(message)[:4000])
    if results and all(r.get("status") == "skipped" for r in results):
        return Outcome("skipped", duration)
    return Outcome("passed", duration)


class CucumberAdapter:
    kind = "cucumber"

    def __init__(self, args: Sequence[str] = ()) -> None:
        self.args = list(args)

    def argv(self, executable: str, scenario_ids: Sequence[str], report_path: str) -> list[str]:
        return [executable, *scenario_ids, "--format", f"json:{report_path}", *self.args]

    def run_batch(self, scenario_ids: Sequence[str], context: BatchContext) -> BatchRun:
        report = context.report_dir / f"cucumber-a{context.attempt}.json"
        report.unlink(missing_ok=True)
        executable = find_node_binary(context.workspace, "cucumber-js")
        done = run_process(
            self.argv(executable, scenario_ids, str(report)),
            context.workspace,
            context.env,
            context.timeout,
        )
        batch = BatchRun()
        try:
            parsed = parse_cucumber_json(json.loads(report.read_text("utf-8")))
        except (OSError, ValueError):
            parsed = {}
        batch.outcomes = {s: parsed[s] for s in scenario_ids if s in parsed}
        if done.problem or (done.exit_code not in (0, 1)) or not parsed:
            batch.problem = done.problem or (
                f"cucumber-js exited with code {done.exit_code} and reported "
                f"{len(parsed)} scenarios:\n{done.output_tail}"
            )
        return batch
