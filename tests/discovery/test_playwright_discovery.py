"""Playwright discovery: the JSON list report parsed from a recorded sample; a missing install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.discovery import DiscoveryRunner, discover, parse_playwright_report
from engine.errors import DiscoveryError


def test_specs_become_file_line_scenarios(data_dir: Path) -> None:
    report = json.loads((data_dir / "playwright-list.json").read_text())
    scenarios = parse_playwright_report(report, Path("/project"))
    assert [(s.id, s.name, s.tags) for s in scenarios] == [
        ("tests/nested/more.spec.ts:2", "nested one", []),
        ("tests/shop.spec.ts:3", "adds to cart", ["smoke"]),
        ("tests/shop.spec.ts:8", "checkout @slow \u203a fails on purpose", ["slow"]),
        ("tests/shop.spec.ts:11", "checkout @slow \u203a later", ["slow"]),
    ]


def test_listing_errors_are_reported(data_dir: Path) -> None:
    report = json.loads((data_dir / "playwright-list.json").read_text())
    report["errors"] = [{"message": "SyntaxError: tests/shop.spec.ts: Unexpected token (3:9)"}]
    with pytest.raises(DiscoveryError, match="Unexpected token"):
        parse_playwright_report(report, Path("/project"))


def test_missing_playwright_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="npm install --save-dev @playwright/test"):
        discover(DiscoveryRunner.PLAYWRIGHT, tmp_path)
