"""cucumber-js, batched: ``path:line`` arguments, results read back from its JSON formatter.

The JSON formatter lists features (``uri``) with elements (scenarios, one per outline example
row) whose ``line`` is the scenario's line, or the example row's line for outlines: exactly the
``path:line`` id discovery produced. With cucumber's own ``retry``, only a scenario's last
attempt is listed, so a scenario that passed on a retry is passed.

A scenario's status is cucumber's own: the worst status among its steps and hooks, in the order
of severity of cucumber's ``getWorstTestStepResult`` (``@cucumber/messages``): unknown < passed
< skipped < pending < undefined < ambiguous < failed. So a scenario a ``Before`` hook skipped
(it returned ``'skipped'``) is skipped even when an ``After`` hook ran and passed, and a failing
``After`` hook fails a scenario whose steps passed. cucumber-js has more statuses than Drover:
``failed`` and ``ambiguous`` fail the scenario; ``undefined`` and ``pending`` fail it too, since
cucumber-js fails the run over them (``strict``, its default), and with ``--no-strict`` among the
runner's arguments (cucumber-js then lets them pass the run) they skip it; ``skipped`` skips it.
The error names the step or hook with the worst status and what cucumber calls it ("Undefined
step (...): When I ...", "Before hook (...) failed: ...").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from drover_agent.cucumber_messages import save_attachments
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
    "skipped": "Skipped (a hook or step returned 'skipped')",
}
NOT_STRICT = frozenset({"undefined", "pending"})
# cucumber's order of severity for step and hook statuses, least severe first
# (``getWorstTestStepResult`` in @cucumber/messages; the JSON formatter writes them lower case).
SEVERITY = ("unknown", "passed", "skipped", "pending", "undefined", "ambiguous", "failed")


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
    severities = [_severity(r.get("status")) for r in results]
    if not severities:
        return Outcome("passed", duration)
    worst = max(severities)
    index = severities.index(worst)  # the first step or hook with the worst status
    status = SEVERITY[worst]
    if status in ("passed", "unknown"):
        return Outcome("passed", duration)
    error = _step_error(steps[index], results[index])
    if status in ("failed", "ambiguous") or (status in NOT_STRICT and strict):
        return Outcome("failed", duration, error)
    return Outcome("skipped", duration, error)


def _severity(status: object) -> int:
    """The rank of a step status in :data:`SEVERITY`; one cucumber has not named here ranks as
    unknown, as in cucumber's own ordering."""
    return SEVERITY.index(status) if status in SEVERITY else 0


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
        self._batches = 0

    def argv(
        self,
        executable: str,
        scenario_ids: Sequence[str],
        report_path: str,
        messages_path: str | None = None,
    ) -> list[str]:
        # The JSON report gives the outcomes; the messages (NDJSON) are cucumber's own machine
        # report, kept per attempt and merged into the run's HTML report.
        messages = ["--format", f"message:{messages_path}"] if messages_path else []
        return [executable, *scenario_ids, "--format", f"json:{report_path}", *messages, *self.args]

    def run_batch(self, scenario_ids: Sequence[str], context: BatchContext) -> BatchRun:
        report = context.report_dir / f"cucumber-a{context.attempt}.json"
        report.unlink(missing_ok=True)
        messages = context.native_dir / f"cucumber-messages-a{context.attempt}-{self._batches}.ndjson"
        self._batches += 1
        executable = find_node_binary(context.workspace, "cucumber-js")
        missing = missing_node_tool(executable, context.workspace)
        if missing is not None:
            return BatchRun(problem=missing)
        done = run_process(
            self.argv(executable, scenario_ids, str(report), str(messages)),
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
        attached = save_attachments(messages, context.raw_artifacts_dir / messages.stem)
        for scenario_id, files in attached.items():
            if scenario_id in batch.outcomes:
                outcome = batch.outcomes[scenario_id]
                batch.outcomes[scenario_id] = replace(outcome, artifacts=[*outcome.artifacts, *files])
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
