"""Every pytest batch runs under the project's configuration, whichever files it names."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_plans import RunAgent, read_results, write_plan
from drover_agent.runners.pytest_config import config_args, project_config

NESTED = Path(__file__).with_name("data") / "nested-config"
DEEP = "tests/sub/test_deep.py::test_uses_the_projects_conftest"


def test_a_batch_under_a_nested_config_file_keeps_the_projects(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    # Only tests under tests/sub (which has its own pytest.ini): a bare pytest would take that
    # file, its directory as rootdir, and stop looking for conftest.py files there.
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": [DEEP]}, path=str(NESTED))
    results = tmp_path / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(NESTED), "--group", "main.all",
        "--shard", "0", "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    (result,) = read_results(results)["results"]
    assert (result["id"], result["status"], result["error"]) == (DEEP, "passed", None)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pytest.ini": "", "pyproject.toml": "[tool.pytest.ini_options]\n"}, "pytest.ini"),
        ({"pyproject.toml": "[tool.pytest.ini_options]\nx = 1\n"}, "pyproject.toml"),
        ({"pyproject.toml": "[tool.pytest]\nx = 1\n"}, "pyproject.toml"),
        ({"pyproject.toml": "[project]\n", "tox.ini": "[pytest]\n"}, "tox.ini"),
        ({"tox.ini": "[tox]\n", "setup.cfg": "[tool:pytest]\naddopts = -q\n"}, "setup.cfg"),
        ({"pyproject.toml": "[project]\n", "setup.cfg": "[metadata]\n"}, "pyproject.toml"),
        ({"setup.cfg": "[metadata]\n", "tox.ini": "[tox]\n"}, None),
    ],
)
def test_project_config_is_the_file_pytest_picks(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name, text in files.items():
        (project / name).write_text(text)
    found = project_config(project)
    assert (found.name if found else None) == expected


def test_project_config_is_searched_upwards(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text("[pytest]\n")
    (tmp_path / "project").mkdir()
    assert project_config(tmp_path / "project") == tmp_path / "tox.ini"


def test_config_args_leave_a_users_choice_alone(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    assert config_args(tmp_path, []) == ["-c", str(tmp_path.resolve() / "pytest.ini")]
    for args in (["-c", "other.ini"], ["--rootdir=."], ["--config-file", "x.toml"], ["-cx.ini"]):
        assert config_args(tmp_path, args) == []


def test_without_a_configuration_file_the_bare_runs_rootdir_is_pinned(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "project").mkdir()
    assert config_args(tmp_path / "project", []) == [f"--rootdir={tmp_path.resolve()}"]
    (tmp_path / "setup.py").unlink()
    assert config_args(tmp_path / "project", []) == [f"--rootdir={tmp_path.resolve() / 'project'}"]
