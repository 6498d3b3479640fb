"""``drover discover`` end to end: its documents load with the loader ``drover validate`` uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engine.cli import app
from engine.loading import load_execution

runner = CliRunner()


def test_execution_document_is_accepted_as_it_is(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "shop.yaml"
    result = runner.invoke(
        app,
        [
            "discover",
            "--runner",
            "pytest",
            str(shop),
            "--execution",
            "shop",
            "--threads",
            "3",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    execution = load_execution(out)
    (group,) = execution.flows[0].groups
    assert (execution.flows[0].name, group.name, group.threads) == ("main", "all", 3)
    assert len(group.scenarios) == 24
    assert execution.project.runner.kind == "pytest"
    assert execution.project.path == str(shop)


@pytest.mark.parametrize("kind", ["pytest", "cucumber"])
def test_an_execution_lists_what_its_defaults_would_not_give_back(
    shop: Path, tmp_path: Path, kind: str
) -> None:
    """A pytest node id is its own location, and most tests have no tags: an execution written
    by discovery leaves both out, and reads back as the scenarios discovered."""
    out = tmp_path / "spec.yaml"
    result = runner.invoke(app, ["discover", "-r", kind, str(shop), "-e", "shop", "-o", str(out)])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["discover", "-r", kind, str(shop), "--format", "json"])
    discovered = json.loads(listed.stdout)

    written = yaml.safe_load(out.read_text())["flows"][0]["groups"][0]["scenarios"]
    (group,) = load_execution(out).flows[0].groups
    assert [s.model_dump(include={"id", "name", "location", "tags"}) for s in group.scenarios] == (
        discovered
    )
    for entry, full in zip(written, discovered, strict=True):
        assert ("location" in entry) == (full["location"] != full["id"])
        assert ("tags" in entry) == bool(full["tags"])
    if kind == "pytest":
        assert not any("location" in entry for entry in written)


def test_scenario_list_as_json(shop: Path) -> None:
    result = runner.invoke(app, ["discover", "--runner", "cucumber", str(shop), "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed[0] == {
        "id": "features/cart.feature:9",
        "name": "Adding a product shows its price",
        "location": "features/cart.feature:9",
        "tags": ["cart", "smoke"],
    }
    assert len(listed) == 9


def test_cucumber_execution_in_yaml_on_stdout(shop: Path) -> None:
    result = runner.invoke(app, ["discover", "-r", "cucumber", str(shop), "-e", "bdd"])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert document["project"]["runner"] == {"kind": "cucumber"}


def test_bad_execution_name_is_invalid_input(shop: Path) -> None:
    result = runner.invoke(app, ["discover", "-r", "cucumber", str(shop), "-e", "Not_A_Name"])
    assert result.exit_code == 2
    assert "name" in result.output


def test_discovery_failure_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["discover", "-r", "playwright", str(tmp_path)])
    assert result.exit_code == 1
    assert "Playwright is not installed" in result.output


def test_threads_without_execution_is_invalid(shop: Path) -> None:
    result = runner.invoke(app, ["discover", "-r", "cucumber", str(shop), "--threads", "2"])
    assert result.exit_code == 2
    assert "--threads" in result.output


def test_yaml_is_written_as_pyyamls_pure_dumper_writes_it() -> None:
    # discover writes with libyaml's emitter (fast at 60,000 scenarios); ids with newlines
    # escaped, quotes, non-ASCII text and long lines come out as PyYAML's own dumper writes them.
    from engine.cli.discover import OutputFormat, _render

    ids = [
        "tests/test_a.py::test_x[a\\nb]",
        "tests/test_ü.py::test_'quoted'[\"x\"-: #]",
        "tests/test_b.py::test_long[" + "x" * 300 + "]",
        "tests/test_c.py::test_trailing[ ]",
    ]
    document = {"scenarios": [{"id": i, "name": i[-20:], "file": "f", "tags": []} for i in ids]}
    expected = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    assert _render(document, OutputFormat.YAML) == expected
    assert yaml.safe_load(expected) == document
