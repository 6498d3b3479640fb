"""pytest, batched: one pytest process per shard, results read back from its JUnit XML report.

JUnit testcases carry ``classname`` and ``name``, which pytest derives from the node id (the
file path with ``/`` turned into ``.`` and ``.py`` dropped, then the ``::`` parts). The adapter
derives the same key from each scenario id and matches exactly; an id naming a file, class or
directory collects the outcomes of the tests under it. An id pytest cannot find (a stale plan)
makes pytest refuse the whole batch, so such ids are reported as errors and the rest rerun.
Every batch runs under the configuration file an argument-less pytest in the workspace uses
(see :mod:`drover_agent.runners.pytest_config`), whichever files the batch names.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drover_agent.results import Status
from drover_agent.runners.base import BatchContext, BatchRun, Outcome, ProcessRun, run_process
from drover_agent.runners.pytest_config import config_args

__all__ = ["PytestAdapter", "junit_key", "match_testcases", "parse_junit"]

# Keep each command line well under the kernel's limit (ARG_MAX, often 2 MiB, shared with env).
ARGV_BUDGET = 100_000
USAGE_ERROR = 4
ERROR_TEXT_LIMIT = 4000
NOT_FOUND = re.compile(r"(?:file or directory not found|not found): (\S.*?)\s*$")


@dataclass(frozen=True)
class JunitCase:
    key: str
    """``classname.name`` as pytest writes them."""
    outcome: Outcome


def junit_key(node_id: str) -> str:
    """The dotted ``classname.name`` pytest's JUnit report uses for a node id."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names)


def parse_junit(xml_text: str) -> list[JunitCase]:
    root = ElementTree.fromstring(xml_text)
    cases = []
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        key = f"{classname}.{name}" if classname else name
        cases.append(JunitCase(key, _outcome(case)))
    return cases


def _outcome(case: ElementTree.Element) -> Outcome:
    duration = float(case.get("time") or 0.0)
    for tag, status in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        element = case.find(tag)
        if element is not None:
            message = element.get("message") or _last_lines(element.text or "")
            return Outcome(_status(status), duration, message[:ERROR_TEXT_LIMIT] or tag)
    return Outcome("passed", duration)


def _status(value: str) -> Status:
    return "failed" if value == "failed" else "error" if value == "error" else "skipped"


def _last_lines(text: str, count: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-count:])


def match_testcases(scenario_ids: Sequence[str], cases: Sequence[JunitCase]) -> dict[str, Outcome]:
    """One outcome per scenario id that the report covers."""
    by_key: dict[str, Outcome] = {}
    for case in cases:
        by_key.setdefault(case.key, case.outcome)
    outcomes: dict[str, Outcome] = {}
    for scenario_id in scenario_ids:
        key = junit_key(scenario_id)
        exact = by_key.get(key) or next(
            (o for k, o in by_key.items() if k.endswith("." + key)), None
        )  # a rootdir above the workspace prefixes the key with its path
        if exact is not None:
            outcomes[scenario_id] = exact
            continue
        inner = [o for k, o in by_key.items() if _contains(k, key)]
        if inner:
            outcomes[scenario_id] = _combine(inner)
            continue
        # A module that failed to import is reported once, as an error of the module itself.
        outer = next(
            (o for k, o in by_key.items() if o.status == "error" and key.startswith(k + ".")), None
        )
        if outer is not None:
            outcomes[scenario_id] = outer
    return outcomes


def _contains(case_key: str, key: str) -> bool:
    for start in (f"{key}.", f"{key}["):
        if case_key.startswith(start) or f".{start}" in case_key:
            return True
    return False


def _combine(outcomes: list[Outcome]) -> Outcome:
    """Several tests under one scenario id: the worst status, the summed time, the first error."""
    statuses = {o.status for o in outcomes}
    worst: Status = next((s for s in ("error", "failed", "passed") if s in statuses), "skipped")
    error = next((o.error for o in outcomes if o.status == worst and o.error), None)
    return Outcome(worst, sum(o.duration for o in outcomes), error)


def argv_chunks(scenario_ids: Sequence[str], budget: int = ARGV_BUDGET) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    used = 0
    for scenario_id in scenario_ids:
        if chunks[-1] and used + len(scenario_id) + 1 > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(scenario_id)
        used += len(scenario_id) + 1
    return chunks


class PytestAdapter:
    kind = "pytest"

    def __init__(self, args: Sequence[str] = (), python: str = sys.executable) -> None:
        self.args = list(args)
        self.python = python

    def argv(
        self, scenario_ids: Sequence[str], junit_path: str, workspace: Path | None = None
    ) -> list[str]:
        return [
            self.python,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "junit_family=xunit1",
            f"--junitxml={junit_path}",
            *(config_args(workspace, self.args) if workspace is not None else []),
            *self.args,
            *scenario_ids,
        ]

    def run_batch(self, scenario_ids: Sequence[str], context: BatchContext) -> BatchRun:
        batch = BatchRun()
        for number, chunk in enumerate(argv_chunks(scenario_ids)):
            self._run_chunk(chunk, context, f"a{context.attempt}-{number}", batch)
        return batch

    def _run_chunk(
        self, scenario_ids: list[str], context: BatchContext, label: str, batch: BatchRun
    ) -> None:
        remaining = list(scenario_ids)
        for retry in range(len(scenario_ids)):
            junit = context.report_dir / f"junit-{label}-{retry}.xml"
            junit.unlink(missing_ok=True)
            done = run_process(
                self.argv(remaining, str(junit), context.workspace),
                context.workspace,
                context.env,
                context.timeout,
            )
            cases = parse_junit(junit.read_text("utf-8")) if junit.exists() else []
            batch.outcomes.update(match_testcases(remaining, cases))
            missing = _not_found(done, remaining) if not cases else []
            if done.exit_code != USAGE_ERROR or not missing or len(missing) == len(remaining):
                if done.problem or done.exit_code not in (0, 1, None):
                    batch.problem = _problem(done)
                for scenario_id in missing:
                    batch.outcomes[scenario_id] = Outcome("error", 0.0, "pytest found no such test")
                return
            # pytest refused the whole batch over ids it cannot find: report those, run the rest.
            for scenario_id in missing:
                batch.outcomes[scenario_id] = Outcome("error", 0.0, "pytest found no such test")
            remaining = [s for s in remaining if s not in missing]


def _not_found(done: ProcessRun, scenario_ids: Sequence[str]) -> list[str]:
    named = [m.group(1) for m in map(NOT_FOUND.search, done.output_tail.splitlines()) if m]
    return [s for s in scenario_ids if any(n == s or n.endswith("/" + s) for n in named)]


def _problem(done: ProcessRun) -> str:
    if done.problem:
        return done.problem
    return f"pytest exited with code {done.exit_code}:\n{done.output_tail}"
