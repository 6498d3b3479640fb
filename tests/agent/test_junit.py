"""The run's JUnit XML: Surefire's schema, read back by junitparser, rerun conventions."""

from __future__ import annotations

import io
from pathlib import Path
from xml.etree import ElementTree

import xmlschema
from agent_plans import ROOT
from drover_agent.junit import cases_from_shard_reports, write_junit
from junitparser import JUnitXml

SUREFIRE_XSD = ROOT / "tests" / "data" / "junit" / "surefire-test-report-3.0.xsd"


def result(id: str, status: str, attempt: int, error: str | None = None) -> dict[str, object]:
    return {"id": id, "status": status, "attempt": attempt, "duration": 0.25, "error": error}


SHARDS = [
    {"group": "checkout.smoke", "results": [
        result("t/test_cart.py::test_add", "passed", 1),
        result("t/test_cart.py::test_flaky", "passed", 2),
        result("t/test_cart.py::test_broken", "failed", 3, "AssertionError: 9 != 10\n  at line 3"),
    ], "retried": [
        result("t/test_cart.py::test_flaky", "failed", 1, "first try \x1b[31mred\x1b[0m \x00"),
        result("t/test_cart.py::test_broken", "failed", 1, "AssertionError: 9 != 10"),
        result("t/test_cart.py::test_broken", "error", 2, "fixture broke"),
    ]},
    {"group": "checkout.smoke", "results": [
        result("t/test_pay.py::test_skip", "skipped", 1, "not on Fridays"),
        result("t/test_pay.py::test_error", "error", 1, "setup <failed> & more"),
    ], "retried": []},
    {"group": "catalog.full", "results": [result("features/a.feature:3", "passed", 1)], "retried": []},
]  # fmt: skip


def merged_xml() -> str:
    out = io.StringIO()
    counts = write_junit(out, cases_from_shard_reports(SHARDS), name="shop")
    assert (counts.tests, counts.failures, counts.errors, counts.skipped) == (6, 1, 1, 1)
    assert counts.flaky == 1
    return out.getvalue()


def test_every_suite_validates_against_surefires_schema() -> None:
    schema = xmlschema.XMLSchema(str(SUREFIRE_XSD))
    root = ElementTree.fromstring(merged_xml())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["catalog.full", "checkout.smoke"]
    for suite in suites:
        schema.validate(ElementTree.tostring(suite, encoding="unicode"))


def test_junitparser_reads_back_the_runs_counts(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(merged_xml(), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    smoke = suites["checkout.smoke"]
    assert (smoke.tests, smoke.failures, smoke.errors, smoke.skipped) == (5, 1, 1, 1)
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (6, 1, 1, 1)
    cases = {case.name: case for case in smoke}
    assert cases["t/test_cart.py::test_flaky"].is_passed  # failed, then passed on rerun
    assert cases["t/test_cart.py::test_broken"].is_failure
    assert cases["t/test_pay.py::test_error"].is_error
    assert cases["t/test_pay.py::test_skip"].is_skipped
    assert cases["t/test_cart.py::test_add"].time == 0.25
    assert cases["t/test_cart.py::test_broken"].time == 0.75  # every attempt's time


def test_reruns_follow_the_surefire_convention() -> None:
    root = ElementTree.fromstring(merged_xml())
    case = {c.get("name"): c for c in root.iter("testcase")}
    flaky = case["t/test_cart.py::test_flaky"]
    assert [e.tag for e in flaky] == ["flakyFailure"]
    # ANSI colours and characters XML cannot carry are dropped.
    assert flaky.find("flakyFailure/stackTrace").text == "first try red "  # type: ignore[union-attr]
    broken = case["t/test_cart.py::test_broken"]
    # Failed every time: the first failure, then each rerun (Surefire's element order).
    assert [e.tag for e in broken] == ["failure", "rerunFailure", "rerunError"]
    assert broken.find("failure").get("message") == "AssertionError: 9 != 10"  # type: ignore[union-attr]
    assert case["t/test_pay.py::test_error"].find("error").get("message") == "setup <failed> & more"  # type: ignore[union-attr]
    assert case["t/test_pay.py::test_skip"].find("skipped").get("message") == "not on Fridays"  # type: ignore[union-attr]
