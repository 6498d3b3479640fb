"""cucumber-js, batched: ``path:line`` arguments, results read back from its JSON formatter.

The JSON formatter lists features (``uri``) with elements (scenarios, one per outline example
row) whose ``line`` is the scenario's line, or the example row's line for outlines: exactly the
``path:line`` id discovery produced. With cucumber's own ``retry``, only a scenario's last
attempt is listed, so a scenario that passed on a retry is passed.

cucumber-js has more step statuses than Drover has scenario statuses. A scenario failed when a
step or a hook failed; a step that is ``undefined``, ``pending`` or ``ambiguous`` also fails it,
since cucumber-js fails the run over them (``strict``, its default), and the error names the
step and what cucumber calls it ("Undefined step: When I ..."). With ``--no-strict`` among the
runner's arguments, cucumber-js lets undefined and pending steps pass the run, and such
scenarios are skipped; ambiguous steps fail either way. A scenario whose steps were all
skipped (a hook returned ``'skipped'``) is skipped.
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
    missing_node_tool,
    run_process,
)

__all__ = ["CucumberAdapter", "parse_cucumber_json"]

NANOSECONDS = 1e9
ERROR_TEXT_LIMIT = 4000
# What cucumber-js calls each step status that is not a plain failure, in a readable message.
STEP_PROBLEMS = {
    "undefined": "Undefined step (no step definition matches it)",
    "pending": "Pending step (its definition returned 'pending')",
    "ambiguous": "Ambiguous step (several step definitions match it)",
}
NOT_STRICT = frozenset({"undefined", "pending"})


def parse_cucumber_json(report: list[dict[str, Any]], strict: bool = True) -> dict[str, Outcome]:
    """Outcomes keyed by ``uri:line`` of each scenario element."""
    outcomes: dict[str, Outcome] = {}
    for feature in report:
        uri = PurePosixPath(str(feature.get("uri", "")).replace("\\", "/")).as_posix()
        for element in feature.get("elements", []):
            if element.get("type", "scenario") != "scenario":
                continue  # a background element holds steps already counted in its scenario
            outcomes[f"{uri}:{element.get('line')}"] = _element_outcome(element, strict)
    return outcomes


def _element_outcome(element: dict[str, Any], strict: bool) -> Outcome:
    steps = [*element.get("before", []), *element.get("steps", []), *element.get("after", [])]
    results = [s.get("result", {}) for s in steps]
    duration = sum(float(r.get("duration") or 0) for r in results) / NANOSECONDS
    lenient = []
    for step, result in zip(steps, results, strict=True):
        status = result.get("status")
        if status == "failed":
            return Outcome("failed", duration, _step_error(step, result))
        if status in STEP_PROBLEMS:
            if strict or status not in NOT_STRICT:
                return Outcome("failed", duration, _step_error(step, result))
            lenient.append(_step_error(step, result))
    if lenient:
        return Outcome("skipped", duration, lenient[0])
    if results and all(r.get("status") == "skipped" for r in results):
        return Outcome("skipped", duration)
    return Outcome("passed", duration)


def _step_error(step: dict[str, Any], result: dict[str, Any]) -> str:
    """Which step (or hook) it was, and why: cucumber's message, or what its status means."""
    keyword = str(step.get("keyword", "")).strip()
    if step.get("hidden") or keyword in ("Before", "After"):
        where = f"{keyword or 'A'} hook"
        location = (step.get("match") or {}).get("location")
        where += f" ({location})" if location else ""
    else:
        where = f"{keyword} {step.get('name', '')}".strip()
        where += f" (line {step['line']})" if step.get("line") else ""
    status = str(result.get("status"))
    message = result.get("error_message")
    if status == "failed":
        text = f"{where} failed:\n{message}" if message else f"{where} failed"
    else:
        text = f"{STEP_PROBLEMS.get(status, status)}: {where}" + (f"\n{message}" if message else "")
    return text[:ERROR_TEXT_LIMIT]


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
        missing = missing_node_tool(executable, context.workspace)
        if missing is not None:
            return BatchRun(problem=missing)
        done = run_process(
            self.argv(executable, scenario_ids, str(report)),
            context.workspace,
            context.env,
            context.timeout,
        )
        batch = BatchRun()
        try:
            parsed = parse_cucumber_json(
                json.loads(report.read_text("utf-8")), strict="--no-strict" not in self.args
            )
        except (OSError, ValueError):
            parsed = {}
        batch.outcomes = {s: parsed[s] for s in scenario_ids if s in parsed}
        if done.problem or (done.exit_code not in (0, 1)) or not parsed:
            batch.problem = done.problem or (
                f"cucumber-js exited with code {done.exit_code} and reported "
                f"{len(parsed)} scenarios:\n{done.output_tail}"
            )
        elif len(batch.outcomes) < len(set(scenario_ids)):
            batch.problem = (
                "cucumber-js ran no scenario at this line (the feature file changed since the "
                "plan was made, or the profile's tags or name filter leaves it out)"
            )
        return batch
