"""The run's JUnit XML: one ``testsuite`` per scenario group, each scenario once.

Attempts follow Maven Surefire's rerun convention (``surefire-test-report-3.0.xsd``), which
Jenkins, GitLab and the GitHub test reporters read: a scenario that passed after failing keeps
each failed attempt as ``flakyFailure`` (``flakyError``); one that failed every time has its
first failure as ``failure`` (``error``) and each later attempt as ``rerunFailure``
(``rerunError``).

Written as a stream: each suite's cases go to a spooled temporary file while its counts add
up, then the suite's element, with the counts, is written before them. Memory stays bounded
by the spool size whatever the number of scenarios; ``cases`` must come grouped by group.
Standard library only (the agent image and the service both write it).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple
from xml.sax.saxutils import escape, quoteattr

from drover_agent.results import Property, read_properties

__all__ = [
    "Attempt",
    "Case",
    "JunitCounts",
    "cases_from_shard_reports",
    "write_junit",
]

SPOOL_BYTES = 4 * 1024 * 1024
MESSAGE_LIMIT = 1000
# XML 1.0 forbids most control characters (pytest and Playwright errors carry ANSI escapes).
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# What an attribute value needs quoted or escaped; most test names and groups hold none of it.
ATTRIBUTE_SPECIAL = re.compile("[&<>\"'\n\r\t]")
FAILING = ("failed", "error")


class Attempt(NamedTuple):
    """One attempt of a scenario (tuples: a large run's report makes 60,000 and more)."""

    status: str
    duration: float
    attempt: int
    error: str | None = None
    properties: tuple[Property, ...] = ()
    """pytest's ``record_property`` pairs: the final attempt's become the case's
    ``<properties>``, as pytest's own JUnit report writes them."""


class Case(NamedTuple):
    id: str
    group: str
    final: Attempt
    earlier: tuple[Attempt, ...] = ()
    """Earlier attempts, oldest first."""


@dataclass
class JunitCounts:
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    flaky: int = 0
    time: float = 0.0
    suites: dict[str, JunitCounts] = field(default_factory=dict)

    def add(self, case: Case) -> None:
        status = case.final.status
        self.tests += 1
        if status != "passed":
            self.failures += status == "failed"
            self.errors += status == "error"
            self.skipped += status == "skipped"
        if not case.earlier:  # most cases: no reruns to look through
            self.time += case.final.duration
            return
        self.flaky += status == "passed" and any(a.status in FAILING for a in case.earlier)
        self.time += case.final.duration + sum(a.duration for a in case.earlier)


def _text(value: str | None) -> str:
    if not value:
        return ""
    if value.isascii() and value.isprintable():
        return value  # the common case: nothing to drop
    if "\x1b" in value:
        value = ANSI_ESCAPE.sub("", value)
    return NOT_XML.sub("", value)


def _attr(value: str) -> str:
    text = _text(value)
    if ATTRIBUTE_SPECIAL.search(text) is None:
        return f'"{text}"'  # what quoteattr makes of it, 60,000 times cheaper
    return quoteattr(text)


def _message(error: str | None) -> str:
    first = _text(error).strip().splitlines()[:1]
    return first[0][:MESSAGE_LIMIT] if first else ""


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def _case_xml(case: Case) -> str:
    final = case.final
    attempts = [*case.earlier, final]
    parts = [
        f"<testcase name={_attr(case.id)} classname={_attr(case.group)} "
        f'time="{_seconds(sum(a.duration for a in attempts))}"'
    ]
    inner: list[str] = []
    if final.properties:
        properties = "".join(
            f"<property name={_attr(name)} value={_attr(value)}/>"
            for name, value in final.properties
        )
        inner.append(f"<properties>{properties}</properties>")
    if final.status in FAILING:
        failing = [a for a in attempts if a.status in FAILING]
        first, reruns = failing[0], failing[1:]
        main = "failure" if final.status == "failed" else "error"
        main_xml = (
            f"<{main} message={_attr(_message(first.error))} type={_attr(final.status)}>"
            f"{escape(_text(first.error))}</{main}>"
        )
        rerun_failures = [_rerun("rerunFailure", a) for a in reruns if a.status == "failed"]
        rerun_errors = [_rerun("rerunError", a) for a in reruns if a.status == "error"]
        # Surefire's order: failure, rerunFailure, (flaky...), skipped, error, rerunError.
        if main == "failure":
            inner += [main_xml, *rerun_failures, *rerun_errors]
        else:
            inner += [*rerun_failures, main_xml, *rerun_errors]
    else:
        inner += [_rerun("flakyFailure", a) for a in case.earlier if a.status == "failed"]
        if final.status == "skipped":
            inner.append(f"<skipped message={_attr(_message(final.error))}/>")
        inner += [_rerun("flakyError", a) for a in case.earlier if a.status == "error"]
    if not inner:
        return parts[0] + "/>\n"
    return parts[0] + ">" + "".join(inner) + "</testcase>\n"


def _rerun(tag: str, attempt: Attempt) -> str:
    return (
        f"<{tag} message={_attr(_message(attempt.error))} type={_attr(attempt.status)}>"
        f"<stackTrace>{escape(_text(attempt.error))}</stackTrace>"
        f"<system-out>{escape(f'attempt {attempt.attempt}')}</system-out></{tag}>"
    )


def _suite_open(name: str, counts: JunitCounts) -> str:
    return (
        f"<testsuite name={_attr(name)} tests=\"{counts.tests}\" failures=\"{counts.failures}\" "
        f"errors=\"{counts.errors}\" skipped=\"{counts.skipped}\" "
        f"time=\"{_seconds(counts.time)}\">\n"
    )


def write_junit(out: IO[str], cases: Iterable[Case], *, name: str) -> JunitCounts:
    """Write the JUnit XML of ``cases`` (grouped by ``group``) to ``out``; the counts."""
    total = JunitCounts()
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+", encoding="utf-8") as suites:
        for group, group_cases in _by_group(cases):
            counts = JunitCounts()
            with tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+", encoding="utf-8") as body:
                for case in group_cases:
                    counts.add(case)
                    total.add(case)
                    body.write(_case_xml(case))
                suites.write(_suite_open(group, counts))
                body.seek(0)
                shutil.copyfileobj(body, suites)
                suites.write("</testsuite>\n")
            total.suites[group] = counts
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(
            f"<testsuites name={_attr(name)} tests=\"{total.tests}\" "
            f"failures=\"{total.failures}\" errors=\"{total.errors}\" "
            f"skipped=\"{total.skipped}\" time=\"{_seconds(total.time)}\">\n"
        )
        suites.seek(0)
        shutil.copyfileobj(suites, out)
        out.write("</testsuites>\n")
    return total


def _by_group(cases: Iterable[Case]) -> Iterator[tuple[str, Iterator[Case]]]:
    """Consecutive runs of one group, without reading ahead more than one case."""
    iterator = iter(cases)
    pending: list[Case] = []
    for first in iterator:
        pending.append(first)
        break
    while pending:
        group = pending[0].group

        def run(group: str = group) -> Iterator[Case]:
            yield pending.pop()
            for case in iterator:
                if case.group != group:
                    pending.append(case)
                    return
                yield case

        members = run()
        yield group, members
        for _ in members:  # the caller may not have read them all
            pass


def cases_from_shard_reports(documents: Iterable[dict[str, Any]]) -> list[Case]:
    """Cases out of workers' results files (``ShardReport.to_json``), grouped by group: per
    scenario, the highest attempt is final (a retried pod's results outnumber its first pod's),
    every other one earlier."""
    found: dict[tuple[str, str], list[Attempt]] = {}
    for document in documents:
        group = str(document.get("group", ""))
        for entry in (*document.get("retried", []), *document.get("results", [])):
            attempt = Attempt(
                str(entry.get("status", "error")),
                float(entry.get("duration") or 0.0),
                int(entry.get("attempt") or 0),
                entry.get("error"),
                read_properties(entry.get("properties")),
            )
            found.setdefault((group, str(entry["id"])), []).append(attempt)
    cases = []
    for key in sorted(found):
        attempts = found[key]
        if len(attempts) > 1:  # by number; of two with one number, the one read last
            by_number = {a.attempt: a for a in attempts}
            attempts = [by_number[n] for n in sorted(by_number)]
        cases.append(Case(key[1], key[0], attempts[-1], tuple(attempts[:-1])))
    return cases
