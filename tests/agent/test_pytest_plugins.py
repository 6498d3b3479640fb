"""Plugins only Drover's environment brought stay out of the project's pytest.

Real installed distributions: this environment holds Drover with its dev extra (schemathesis,
hypothesis, pytest-timeout and their pytest plugins)."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import pytest
from drover_agent.runners.pytest_plugins import drover_distributions, foreign_plugins
from drover_agent.runners.pytest_session import PytestAdapter

ENV = {k: v for k, v in os.environ.items() if k not in ("PYTEST_DISABLE_PLUGIN_AUTOLOAD",)}
ENV.pop("PYTEST_ADDOPTS", None)


def _installed(name: str) -> bool:
    return any(e.name == name for e in metadata.entry_points(group="pytest11"))


pytestmark = pytest.mark.skipif(
    not (_installed("schemathesis") and _installed("hypothesispytest")),
    reason="needs Drover's dev extra installed (schemathesis, hypothesis)",
)


def test_drovers_requirements_reach_its_dev_extra_and_their_dependencies() -> None:
    ours = drover_distributions()
    assert {"schemathesis", "hypothesis", "pytest-timeout", "fastapi", "anyio"} <= ours
    assert drover_distributions("no-such-distribution-here") == frozenset()


def test_a_project_that_mentions_nothing_gets_none_of_drovers_plugins(tmp_path: Path) -> None:
    off = foreign_plugins(tmp_path, [], ENV)
    assert {"schemathesis", "hypothesispytest", "timeout"} <= set(off)
    assert "drover_agent" not in " ".join(off)


def test_plugins_the_project_declares_or_asks_for_stay(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n[project.optional-dependencies]\ntest = ["Hypothesis>=6"]\n'
    )
    (tmp_path / "requirements-dev.txt").write_text("pytest_timeout==2.3\n")
    off = foreign_plugins(tmp_path, ["-p", "schemathesis"], ENV)
    assert not {"hypothesispytest", "timeout", "schemathesis"} & set(off)
    off = foreign_plugins(tmp_path, [], {**ENV, "PYTEST_ADDOPTS": "-p schemathesis -q"})
    assert "schemathesis" not in off


def test_nothing_is_turned_off_without_autoload_or_for_another_interpreter(
    tmp_path: Path,
) -> None:
    assert foreign_plugins(tmp_path, [], {**ENV, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}) == []
    argv = PytestAdapter().argv("select.json", tmp_path, None, ["schemathesis"])
    assert argv[argv.index("no:schemathesis") - 1] == "-p"


def test_what_the_projects_dependencies_bring_and_its_options_name_stay(tmp_path: Path) -> None:
    """httpx in test-requirements.txt brings anyio (``@pytest.mark.anyio`` tests need its
    plugin); ``--hypothesis-show-statistics`` in addopts needs hypothesis' plugin."""
    (tmp_path / "test-requirements.txt").write_text("httpx>=0.27\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --hypothesis-show-statistics\n")
    off = foreign_plugins(tmp_path, [], ENV)
    assert not {"anyio", "hypothesispytest"} & set(off)
    assert {"schemathesis", "timeout"} <= set(off)


def test_a_plugin_the_tests_conftest_imports_stays(tmp_path: Path) -> None:
    """Tests under ``tests/`` whose conftest registers hypothesis profiles use its plugin."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(
        "from hypothesis import settings\nsettings.register_profile('ci', max_examples=10)\n"
    )
    off = foreign_plugins(tmp_path, [], ENV)
    assert "hypothesispytest" not in off
    assert {"schemathesis", "timeout"} <= set(off)
