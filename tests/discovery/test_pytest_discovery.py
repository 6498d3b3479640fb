"""pytest discovery against the real example project and real broken projects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.discovery import DiscoveryRunner, discover
from engine.errors import DiscoveryError


def collect_only_ids(project: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_ids_are_what_pytest_collects(shop: Path) -> None:
    scenarios = discover(DiscoveryRunner.PYTEST, shop)
    assert [s.id for s in scenarios] == collect_only_ids(shop)
    assert len(scenarios) == 24
    assert all(s.location == s.id for s in scenarios)


def test_parametrized_class_and_marker_details(shop: Path) -> None:
    by_id = {s.id: s for s in discover(DiscoveryRunner.PYTEST, shop)}
    half = by_id["tests/cart/test_discounts.py::test_discount_codes[half price]"]
    assert half.name == "test_discount_codes[half price]"
    assert half.tags == ["smoke"]  # 'parametrize' is pytest's own marker, not a tag
    assert "tests/cart/test_cart.py::TestRemoval::test_remove_many" in by_id
    assert by_id["tests/cart/test_cart.py::TestRemoval::test_remove_many"].tags == []  # skip
    # module-level pytestmark is inherited
    assert by_id["tests/checkout/test_checkout.py::test_checkout_under_load"].tags == [
        "slow",
        "checkout",
    ]


def test_ids_are_relative_to_the_given_directory_not_the_rootdir(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    project = tmp_path / "sub"
    (project / "t").mkdir(parents=True)
    (project / "t" / "test_x.py").write_text("def test_one():\n    pass\n")
    assert [s.id for s in discover(DiscoveryRunner.PYTEST, project)] == ["t/test_x.py::test_one"]


def test_collection_error_carries_pytests_message(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text(
        "import no_such_module_here\n\ndef test_a():\n    pass\n"
    )
    with pytest.raises(DiscoveryError) as caught:
        discover(DiscoveryRunner.PYTEST, tmp_path)
    assert "no_such_module_here" in str(caught.value)
    assert "exit code 2" in str(caught.value)


def test_a_project_without_tests_has_no_scenarios(tmp_path: Path) -> None:
    assert discover(DiscoveryRunner.PYTEST, tmp_path) == []


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="not a directory"):
        discover(DiscoveryRunner.PYTEST, tmp_path / "nope")


def test_too_long_parametrized_ids_become_their_function(data_dir: Path) -> None:
    # One case's id is longer than a result can carry: the function becomes one scenario
    # (pytest runs all its cases for it); other functions keep one scenario per case.
    scenarios = discover(DiscoveryRunner.PYTEST, data_dir / "long-params")
    assert [s.id for s in scenarios] == [
        "test_long.py::test_parse",
        "test_long.py::test_odd_params[a::b]",
        "test_long.py::test_odd_params[x/y]",
        "test_long.py::test_odd_params[sp ace]",
        "test_long.py::test_odd_params[\\xe9]",
    ]
    merged = scenarios[0]
    assert (merged.name, merged.location, merged.tags) == (
        "test_parse (all cases: a case's id exceeds 4000 characters)",
        "test_long.py::test_parse",
        ["slow"],
    )


def test_discover_says_which_functions_were_merged(data_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "discover", "--runner", "pytest",
         str(data_dir / "long-params")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test_long.py::test_parse" in done.stderr
    assert "4000 characters" in done.stderr
