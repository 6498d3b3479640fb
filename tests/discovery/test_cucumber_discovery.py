"""cucumber discovery with the official Gherkin parser, on the example feature files."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.discovery import DiscoveryRunner, discover, parse_feature
from engine.errors import DiscoveryError


def test_scenarios_and_outline_rows_with_their_lines(shop: Path) -> None:
    scenarios = discover(DiscoveryRunner.CUCUMBER, shop)
    assert [s.id for s in scenarios] == [
        "features/cart.feature:9",
        "features/cart.feature:13",
        "features/cart.feature:27",  # outline, first Examples table, row 1
        "features/cart.feature:28",  # row 2
        "features/cart.feature:33",  # second Examples table
        "features/checkout.feature:10",
        "features/checkout.feature:21",
        "features/checkout.feature:33",
        "features/checkout.feature:34",
    ]
    lines = (shop / "features" / "cart.feature").read_text().splitlines()
    assert lines[27 - 1].strip().startswith("| BRD")
    assert lines[33 - 1].strip().startswith("| APL")
    assert all(s.location == s.id for s in scenarios)


def test_outline_names_use_the_row_values(shop: Path) -> None:
    by_id = {s.id: s for s in discover(DiscoveryRunner.CUCUMBER, shop)}
    assert by_id["features/cart.feature:28"].name == "Discount code HALF lowers the total"


def test_tags_are_inherited_from_feature_rule_scenario_and_examples(shop: Path) -> None:
    by_id = {s.id: s for s in discover(DiscoveryRunner.CUCUMBER, shop)}
    assert by_id["features/cart.feature:9"].tags == ["cart", "smoke"]
    assert by_id["features/cart.feature:27"].tags == ["cart", "discounts", "smoke"]
    assert by_id["features/cart.feature:33"].tags == ["cart", "discounts", "staff", "slow"]
    assert by_id["features/checkout.feature:10"].tags == ["checkout"]  # untagged rule
    assert by_id["features/checkout.feature:21"].tags == ["checkout", "shipping", "smoke"]
    assert by_id["features/checkout.feature:34"].tags == ["checkout", "shipping"]


def test_dependencies_and_hidden_directories_are_not_searched(tmp_path: Path) -> None:
    text = "Feature: f\n  Scenario: s\n    Given x\n"
    for folder in ("features", "node_modules/pkg", ".git"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "a.feature").write_text(text)
    assert [s.id for s in discover(DiscoveryRunner.CUCUMBER, tmp_path)] == ["features/a.feature:2"]


def test_invalid_gherkin_names_the_file_and_line() -> None:
    text = "Feature: f\n  Scenario: s\n    Given x\n  Background:\n    Given y\n"
    with pytest.raises(DiscoveryError, match=r"(?s)bad\.feature: not valid Gherkin.*\(4:3\)"):
        parse_feature(text, "bad.feature")
