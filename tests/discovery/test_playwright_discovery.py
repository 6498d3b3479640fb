"""Playwright discovery: the JSON list report parsed from a recorded sample; a missing install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.discovery import DiscoveryRunner, discover, parse_playwright_report
from engine.errors import DiscoveryError


def test_every_test_of_every_project_is_a_scenario(data_dir: Path) -> None:
    report = json.loads((data_dir / "playwright-list.json").read_text())
    scenarios = parse_playwright_report(report, Path("/project"))
    s = "\u203a"
    assert [(x.id, x.name, x.location, x.tags) for x in scenarios] == [
        (f"[a] {s} tests/nested/more.spec.ts:2 {s} nested one", "[a] nested one",
         "tests/nested/more.spec.ts:2", []),
        (f"[b] {s} tests/nested/more.spec.ts:2 {s} nested one", "[b] nested one",
         "tests/nested/more.spec.ts:2", []),
        (f"[a] {s} tests/shop.spec.ts:3 {s} adds to cart", "[a] adds to cart",
         "tests/shop.spec.ts:3", ["smoke"]),
        (f"[b] {s} tests/shop.spec.ts:3 {s} adds to cart", "[b] adds to cart",
         "tests/shop.spec.ts:3", ["smoke"]),
        (f"[a] {s} tests/shop.spec.ts:8 {s} checkout @slow {s} fails on purpose",
         f"[a] checkout @slow {s} fails on purpose", "tests/shop.spec.ts:8", ["slow"]),
        (f"[b] {s} tests/shop.spec.ts:8 {s} checkout @slow {s} fails on purpose",
         f"[b] checkout @slow {s} fails on purpose", "tests/shop.spec.ts:8", ["slow"]),
        (f"[a] {s} tests/shop.spec.ts:11 {s} checkout @slow {s} later",
         f"[a] checkout @slow {s} later", "tests/shop.spec.ts:11", ["slow"]),
        (f"[b] {s} tests/shop.spec.ts:11 {s} checkout @slow {s} later",
         f"[b] checkout @slow {s} later", "tests/shop.spec.ts:11", ["slow"]),
    ]  # fmt: skip


def test_unnamed_project_ids_have_no_project_part(data_dir: Path) -> None:
    report = json.loads((data_dir / "playwright-list.json").read_text())
    for suite in report["suites"]:
        for spec in [
            *suite.get("specs", []),
            *(x for i in suite.get("suites", []) for x in i["specs"]),
        ]:
            spec["tests"] = [{**spec["tests"][0], "projectName": ""}]
    ids = [x.id for x in parse_playwright_report(report, Path("/project"))]
    assert ids[:2] == [
        "tests/nested/more.spec.ts:2 \u203a nested one",
        "tests/shop.spec.ts:3 \u203a adds to cart",
    ]


def test_a_serial_group_is_one_scenario_per_project(data_dir: Path) -> None:
    report = json.loads((data_dir / "playwright-list.json").read_text())
    serial = [
        {"project": "a", "file": "/project/tests/shop.spec.ts", "line": 7, "titles": ["checkout @slow"]},
        {"project": "b", "file": "/project/tests/nested/more.spec.ts", "line": 0, "titles": []},
    ]  # fmt: skip
    scenarios = parse_playwright_report(report, Path("/project"), serial)
    s = "\u203a"
    assert [(x.id, x.name, x.location, x.tags) for x in scenarios] == [
        (f"[a] {s} tests/nested/more.spec.ts:2 {s} nested one", "[a] nested one",
         "tests/nested/more.spec.ts:2", []),
        (f"[b] {s} tests/nested/more.spec.ts", "[b] tests/nested/more.spec.ts (serial)",
         "tests/nested/more.spec.ts", []),
        (f"[a] {s} tests/shop.spec.ts:3 {s} adds to cart", "[a] adds to cart",
         "tests/shop.spec.ts:3", ["smoke"]),
        (f"[b] {s} tests/shop.spec.ts:3 {s} adds to cart", "[b] adds to cart",
         "tests/shop.spec.ts:3", ["smoke"]),
        (f"[a] {s} tests/shop.spec.ts:7 {s} checkout @slow", "[a] checkout @slow (serial)",
         "tests/shop.spec.ts:7", ["slow"]),
        (f"[b] {s} tests/shop.spec.ts:8 {s} checkout @slow {s} fails on purpose",
         f"[b] checkout @slow {s} fails on purpose", "tests/shop.spec.ts:8", ["slow"]),
        (f"[b] {s} tests/shop.spec.ts:11 {s} checkout @slow {s} later",
         f"[b] checkout @slow {s} later", "tests/shop.spec.ts:11", ["slow"]),
    ]  # fmt: skip


def test_listing_errors_are_reported(data_dir: Path) -> None:
    report = json.loads((data_dir / "playwright-list.json").read_text())
    report["errors"] = [{"message": "SyntaxError: tests/shop.spec.ts: Unexpected token (3:9)"}]
    with pytest.raises(DiscoveryError, match="Unexpected token"):
        parse_playwright_report(report, Path("/project"))


def test_missing_playwright_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="npm install --save-dev @playwright/test"):
        discover(DiscoveryRunner.PLAYWRIGHT, tmp_path)
