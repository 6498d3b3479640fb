"""One pytest session per batch: the agent's plugin selects the batch's tests from a file of ids.

Real pytest, real projects written into a temporary directory: odd parametrized ids, nested
classes, coarse ids (a class, a function's every case, a file), ids that name nothing, the plan's
order, a shard that must not collect a broken module it does not need, more files than one
command line holds, a project without configuration whose subdirectory holds ``setup.py``, and
the project's own plugins and cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from agent_plans import AGENT_DIR, RunAgent, read_results, write_plan
from drover_agent.runners.pytest_session import selection_paths

from engine.discovery import DiscoveryRunner, discover

NO_SUCH_TEST = "pytest found no such test"

CONFTEST = textwrap.dedent(
    """
    import os

    import pytest


    @pytest.fixture(autouse=True)
    def _note_the_order(request):
        # Every test that runs appends its node id: the order and count the agent caused.
        path = os.environ.get("ORDER_FILE")
        if path:
            with open(path, "a", encoding="utf-8") as notes:
                notes.write(request.node.nodeid + "\\n")
    """
)

ODD = textwrap.dedent(
    """
    import pytest


    @pytest.mark.parametrize(
        "value", ["a b", "x::y", "1/2", "[br]", "\\u00e9", 'q"uote', "-dash", "tab\\there"]
    )
    def test_odd(value):
        assert value != "1/2", "one half is not welcome"


    class TestOuter:
        class TestInner:
            def test_deep(self):
                pass

        def test_shallow(self):
            pass


    def test_plain():
        pass
    """
)


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def run_shard(
    run_agent: RunAgent,
    tmp_path: Path,
    project: Path,
    ids: list[str],
    workspace: Path | None = None,
    **env: str,
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    """The agent over ``ids`` of ``project`` (run in ``workspace``, by default the project)."""
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": ids}, path=str(project))
    results = tmp_path / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(workspace or project),
        "--group", "main.all", "--shard", "0", "--results", str(results),
        "--report-dir", str(tmp_path / "reports"),
        env=env,
    )  # fmt: skip
    document = read_results(results)
    assert [r["id"] for r in document["results"]] == list(dict.fromkeys(ids))
    return done, {r["id"]: r for r in document["results"]}


def test_odd_ids_and_ids_naming_nothing_in_one_session(tmp_path: Path, run_agent: RunAgent) -> None:
    project = write_project(
        tmp_path / "project",
        {"pytest.ini": "[pytest]\n", "tests/conftest.py": CONFTEST, "tests/test_odd.py": ODD},
    )
    ids = [s.id for s in discover(DiscoveryRunner.PYTEST, project)]
    odd = [i for i in ids if "::test_odd[" in i]
    assert len(odd) == 8 and "tests/test_odd.py::test_odd[x::y]" in odd
    assert "tests/test_odd.py::test_odd[\\xe9]" in odd  # pytest escapes non-ASCII in ids
    stale = [
        "tests/test_odd.py::test_gone",
        "tests/test_odd.py::test_odd[no such value]",
        "tests/test_odd.py::TestOuter::TestInner::test_gone",
        "tests/test_removed.py::test_x",
        "tests/removed_dir",
    ]
    plan = [*stale[:2], *reversed(ids), *stale[2:]]  # the plan's order, not the file's
    order = tmp_path / "order.txt"
    done, results = run_shard(run_agent, tmp_path, project, plan, ORDER_FILE=str(order))

    assert done.stdout.count("test session starts") == 1, done.stdout
    assert order.read_text().splitlines() == list(reversed(ids))  # each once, in plan order
    statuses = {i: r["status"] for i, r in results.items()}
    assert statuses == {
        **dict.fromkeys(ids, "passed"),
        "tests/test_odd.py::test_odd[1/2]": "failed",
        **dict.fromkeys(stale, "error"),
    }
    assert all(results[s]["error"] == NO_SUCH_TEST for s in stale)
    assert results["tests/test_odd.py::test_odd[1/2]"]["error"].startswith(
        "AssertionError: one half is not welcome"
    )


def test_coarse_ids_overlapping_fine_ones_run_each_test_once(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = write_project(
        tmp_path / "project",
        {"pytest.ini": "[pytest]\n", "tests/conftest.py": CONFTEST, "tests/test_odd.py": ODD},
    )
    ids = [
        "tests/test_odd.py::TestOuter",  # a class and its nested class
        "tests/test_odd.py::test_odd",  # every case of a parametrized function
        "tests/test_odd.py::test_odd[a b]",  # one of those cases again
        "tests",  # a directory: everything, again
    ]
    order = tmp_path / "order.txt"
    _, results = run_shard(run_agent, tmp_path, project, ids, ORDER_FILE=str(order))
    ran = order.read_text().splitlines()
    assert len(ran) == len(set(ran)) == 11
    # The class first, then the function's cases, as the plan orders the ids naming them.
    assert ran[:2] == [
        "tests/test_odd.py::TestOuter::TestInner::test_deep",
        "tests/test_odd.py::TestOuter::test_shallow",
    ]
    assert ran[-1] == "tests/test_odd.py::test_plain"
    assert {i: r["status"] for i, r in results.items()} == {
        "tests/test_odd.py::TestOuter": "passed",
        "tests/test_odd.py::test_odd": "failed",
        "tests/test_odd.py::test_odd[a b]": "passed",
        "tests": "failed",
    }


def test_only_nothing_but_stale_ids_is_no_runner_problem(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = write_project(tmp_path / "project", {"tests/test_odd.py": ODD})
    ids = ["tests/test_odd.py::test_gone", "tests/test_odd.py::TestOuter::test_gone"]
    done, results = run_shard(run_agent, tmp_path, project, ids)
    assert done.returncode == 1
    assert [r["error"] for r in results.values()] == [NO_SUCH_TEST, NO_SUCH_TEST]


# boltons' conftest answers False ("collect it") for every path; the hook stops at the first
# answer, so Drover's file filter must answer first (it answers only True or nothing).
COLLECT_EVERYTHING = "def pytest_ignore_collect(collection_path, config):\n    return False\n"


@pytest.mark.parametrize("conftest", [None, COLLECT_EVERYTHING], ids=["plain", "boltons-like"])
def test_a_shard_collects_only_the_files_its_ids_live_in(
    tmp_path: Path, run_agent: RunAgent, conftest: str | None
) -> None:
    files = {"tests/test_odd.py": ODD, **({"conftest.py": conftest} if conftest else {})}
    project = write_project(tmp_path / "project", files)
    ids = [s.id for s in discover(DiscoveryRunner.PYTEST, project) if "TestOuter" in s.id]
    # Broken since the plan was made, in a file this shard has no scenario in: collecting the
    # whole project would stop the session ("error during collection").
    (project / "tests" / "test_broken.py").write_text("raise ImportError('broken on purpose')\n")
    done, results = run_shard(run_agent, tmp_path, project, ids)
    assert done.returncode == 0, done.stdout
    assert {r["status"] for r in results.values()} == {"passed"}
    assert "test_broken" not in done.stdout


def test_a_test_relying_on_what_another_file_imports_passes_as_in_a_bare_run(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """structlog's tests read ``multiprocessing`` from ``sys.modules``, which only another of
    its test files imports: a bare run's collection imports every test module, so they pass
    there, and in a batch that holds none of that file's tests they must pass too."""
    project = write_project(
        tmp_path / "project",
        {
            "tests/test_imports.py": "import wave\n\n\ndef test_other():\n    pass\n",
            "tests/test_relies.py": (
                "import sys\n\n\ndef test_relies():\n    assert 'wave' in sys.modules\n"
            ),
            "tests/test_broken.py": "raise ImportError('broken since the plan was made')\n",
            "tests/data_module.py": "raise SystemExit('a data file no collector wants')\n",
        },
    )
    done, results = run_shard(run_agent, tmp_path, project, ["tests/test_relies.py::test_relies"])

    assert done.returncode == 0, done.stdout
    assert results["tests/test_relies.py::test_relies"]["status"] == "passed"
    assert "1 passed" in done.stdout and "broken" not in done.stdout


def test_passed_over_modules_are_imported_where_the_walk_meets_them(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """markdown's test_legacy.py calls ``warnings.simplefilter("error")`` when imported: in a
    bare run every file collected after it sees that filter, and none collected before it. A
    module the project's ``collect_ignore`` names is not imported at all."""
    record = (
        "import builtins\n\n"
        "builtins.imported = [*getattr(builtins, 'imported', []), __name__]\n"
        "SEEN = list(builtins.imported)\n\n\n"
        "def test_it():\n    pass\n"
    )
    names = ["test_a", "test_b", "test_c", "test_d"]
    project = write_project(
        tmp_path / "project",
        {
            **{f"tests/{name}.py": record for name in names},
            # Ignored by the project: a bare run never imports it, nor may a batch.
            "tests/conftest.py": "collect_ignore = ['test_c2.py']\n",
            "tests/test_c2.py": record,
            "tests/test_x_order.py": (
                "import test_b, test_d\n\n\n"
                "def test_the_walks_order():\n"
                "    assert test_b.SEEN == ['test_a', 'test_b']\n"
                "    assert test_d.SEEN == ['test_a', 'test_b', 'test_c', 'test_d']\n"
            ),
        },
    )
    ids = ["tests/test_b.py::test_it", "tests/test_d.py::test_it", "tests/test_x_order.py"]
    done, results = run_shard(run_agent, tmp_path, project, ids)

    assert done.returncode == 0, done.stdout
    assert {r["status"] for r in results.values()} == {"passed"}, results
    assert len(results) == 3


def test_ids_holding_the_projects_path_run_in_a_workspace_elsewhere(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """werkzeug parametrizes with ``str(Path(__file__).parent / "res")``: discovery's ids hold
    the project's directory, the pod's pytest names the same tests with the workspace's."""
    test = (
        "from pathlib import Path\n\nimport pytest\n\n\n"
        "@pytest.mark.parametrize('path', [str(Path(__file__).parent / 'res' / 'a.txt')])\n"
        "def test_reads(path):\n    assert Path(path).read_text() == 'a'\n"
    )
    project = write_project(
        tmp_path / "project", {"tests/test_res.py": test, "tests/res/a.txt": "a"}
    )
    (scenario,) = [s.id for s in discover(DiscoveryRunner.PYTEST, project)]
    assert str(project) in scenario
    workspace = tmp_path / "workspace"
    shutil.copytree(project, workspace)
    done, results = run_shard(run_agent, tmp_path, project, [scenario], workspace=workspace)
    assert done.returncode == 0, done.stdout
    assert results[scenario]["status"] == "passed"


def test_more_files_than_a_command_line_holds_run_as_a_bare_pytest_collects(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    deep = "tests/" + "/".join(c * 240 for c in "abc")  # a long path for each file
    count = 2 * (100_000 // len(deep)) + 20  # 200 kB of paths: more than one argument list
    files = {f"{deep}/test_{n}.py": "def test_it():\n    pass\n" for n in range(count)}
    files["pyproject.toml"] = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    # Outside testpaths: a bare pytest never collects it, so neither may the agent.
    files["scripts/test_broken.py"] = "raise ImportError('not part of the suite')\n"
    project = write_project(tmp_path / "project", files)
    ids = [f"{name}::test_it" for name in files if name.startswith("tests/")][::2]
    done, results = run_shard(run_agent, tmp_path, project, ids)
    assert done.returncode == 0, done.stdout[-3000:]
    assert len(results) == count // 2
    assert {r["status"] for r in results.values()} == {"passed"}


def test_without_configuration_the_rootdir_is_the_bare_runs(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    # No configuration file anywhere: a bare pytest in the project takes the project as rootdir,
    # but a pytest given only files under sub/ would take sub/ (it holds setup.py) instead,
    # and name the tests differently.
    project = write_project(
        tmp_path / "project",
        {"sub/setup.py": "", "sub/test_sub.py": "def test_a():\n    pass\n"},
    )
    ids = [s.id for s in discover(DiscoveryRunner.PYTEST, project)]
    assert ids == ["sub/test_sub.py::test_a"]
    done, results = run_shard(run_agent, tmp_path, project, ids)
    assert done.returncode == 0, done.stdout
    assert results["sub/test_sub.py::test_a"]["status"] == "passed"


def test_a_configuration_above_the_workspace(tmp_path: Path, run_agent: RunAgent) -> None:
    # A sub-project of a repository whose pytest configuration is at the top: pytest's rootdir
    # is above the workspace and its node ids start with sub/; the plan's ids do not.
    repository = write_project(
        tmp_path / "repository",
        {
            "pytest.ini": "[pytest]\n",
            "sub/tests/conftest.py": CONFTEST,
            "sub/tests/test_odd.py": ODD,
        },
    )
    project = repository / "sub"
    ids = [s.id for s in discover(DiscoveryRunner.PYTEST, project)]
    assert "tests/test_odd.py::TestOuter::test_shallow" in ids
    order = tmp_path / "order.txt"
    _, results = run_shard(run_agent, tmp_path, project, ids[::-1], ORDER_FILE=str(order))
    assert order.read_text().splitlines() == [f"sub/{i}" for i in ids[::-1]]
    assert {i: r["status"] for i, r in results.items()} == {
        **dict.fromkeys(ids, "passed"),
        "tests/test_odd.py::test_odd[1/2]": "failed",
    }


MANY_CASES = textwrap.dedent(
    """
    import pytest


    @pytest.mark.parametrize("n", range(200))
    def test_many(n):
        pass


    @pytest.mark.parametrize("letter", ["a", "b"])
    @pytest.mark.parametrize("digit", [1, 2])
    def test_grid(digit, letter):
        pass


    @pytest.mark.parametrize("n", range(3))
    def test_whole(n):
        pass


    @pytest.mark.parametrize("n", range(4))
    def test_unnamed(n):
        pass


    class TestNamed:
        @pytest.mark.parametrize("n", range(3))
        def test_in_class(self, n):
            pass
    """
)
COLLECTED_NOTES = textwrap.dedent(
    """
    import os


    def pytest_itemcollected(item):
        with open(os.environ["COLLECTED_FILE"], "a", encoding="utf-8") as notes:
            notes.write(item.nodeid + "\\n")


    def pytest_generate_tests(metafunc):
        with open(os.environ["PARAMETRIZED_FILE"], "a", encoding="utf-8") as notes:
            notes.write(metafunc.definition.nodeid + "\\n")
    """
)


@pytest.mark.parametrize("layout", ["project", "configuration above"])
def test_cases_no_id_names_are_never_made_into_tests(
    tmp_path: Path, run_agent: RunAgent, layout: str
) -> None:
    # packaging's test_version.py has 51,000 cases: a shard running half of them used to make a
    # test of every case, then deselect half (a second per worker).
    files = {
        "tests/conftest.py": CONFTEST + COLLECTED_NOTES,
        "tests/test_cases.py": MANY_CASES,
        "tests/odd[dir]/test_in_dir.py": "def test_here():\n    pass\n",
    }
    if layout == "project":
        project = write_project(tmp_path / "project", {"pytest.ini": "[pytest]\n", **files})
        prefix = ""
    else:  # pytest's rootdir above the workspace: its node ids start with sub/, the ids don't
        repository = write_project(
            tmp_path / "repository",
            {"pytest.ini": "[pytest]\n", **{f"sub/{k}": v for k, v in files.items()}},
        )
        project, prefix = repository / "sub", "sub/"
    module = "tests/test_cases.py"
    ids = [
        f"{module}::test_many[150]",
        f"{module}::test_grid[1-b]",  # stacked parametrize: one id per decorator, joined
        f"{module}::test_many[3]",
        f"{module}::test_whole",  # the function: every case
        f"{module}::TestNamed",  # the class: every case of its methods
        "tests/odd[dir]/test_in_dir.py::test_here",  # a bracket before the test's name
        f"{module}::test_many[no such case]",
    ]
    collected, order = tmp_path / "collected.txt", tmp_path / "order.txt"
    parametrized = tmp_path / "parametrized.txt"
    done, results = run_shard(
        run_agent,
        tmp_path,
        project,
        ids,
        COLLECTED_FILE=str(collected),
        ORDER_FILE=str(order),
        PARAMETRIZED_FILE=str(parametrized),
    )
    whole = [f"{module}::test_whole[{n}]" for n in range(3)]
    in_class = [f"{module}::TestNamed::test_in_class[{n}]" for n in range(3)]
    named = [f"{module}::test_many[150]", f"{module}::test_grid[1-b]", f"{module}::test_many[3]"]
    here = "tests/odd[dir]/test_in_dir.py::test_here"
    expected = [*named, *whole, *in_class, here]
    assert order.read_text().splitlines() == [prefix + i for i in expected]
    # Made into tests: the named cases only. The function no id names is not even parametrized.
    made = sorted(collected.read_text().splitlines())
    assert made == sorted(prefix + i for i in expected)
    assert f"{prefix}{module}::test_unnamed" not in parametrized.read_text().splitlines()
    assert f"{prefix}{module}::test_many" in parametrized.read_text().splitlines()
    assert "deselected" not in done.stdout
    assert {i: r["status"] for i, r in results.items()} == {
        **dict.fromkeys(ids[:-1], "passed"),
        f"{module}::test_many[no such case]": "error",
    }


def test_a_module_that_skips_itself_in_the_worker_skips_its_scenarios(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = write_project(
        tmp_path / "project",
        {
            "tests/test_needs_db.py": textwrap.dedent(
                """
                import os

                import pytest

                if os.environ.get("NO_DATABASE"):
                    pytest.skip("no database here", allow_module_level=True)


                def test_query():
                    pass
                """
            ),
            "tests/test_odd.py": ODD,
        },
    )
    ids = ["tests/test_needs_db.py::test_query", "tests/test_odd.py::test_plain"]
    _, results = run_shard(run_agent, tmp_path, project, ids, NO_DATABASE="1")
    db, plain = (results[i] for i in ids)
    assert (db["status"], db["error"]) == ("skipped", "no database here")
    assert plain["status"] == "passed"


def test_a_module_that_cannot_be_imported_fails_its_scenarios_with_the_import_error(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    project = write_project(
        tmp_path / "project",
        {
            "tests/test_broken.py": "import no_such_module\n\n\ndef test_a():\n    pass\n",
            "tests/test_odd.py": ODD,
        },
    )
    ids = ["tests/test_broken.py::test_a", "tests/test_broken.py", "tests/test_odd.py::test_plain"]
    _, results = run_shard(run_agent, tmp_path, project, ids)
    one, whole, plain = (results[i] for i in ids)
    assert one["status"] == whole["status"] == "error"
    assert "No module named 'no_such_module'" in one["error"]
    # As in a bare run, an error while collecting interrupts the session before any test.
    assert plain["status"] == "error"
    assert "Interrupted: 1 error during collection" in plain["error"]


def test_the_projects_installed_plugins_and_cache_work_as_in_a_plain_run(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    # pytest-timeout is installed in this environment (as a project's plugins are in its
    # image): with autoload on, its marker is known; --ff and the cache fixture need pytest's
    # cacheprovider, which the agent must not switch off. Of Drover, the project's pytest
    # holds its plugin and nothing else.
    project = write_project(
        tmp_path / "project",
        {
            "pytest.ini": "[pytest]\naddopts = --strict-markers --ff\n",
            # Declared, as a project declares its plugins: Drover keeps it although Drover's
            # own dev extra brought it too (plugins only Drover brought are turned off).
            "requirements.txt": "pytest-timeout\n",
            "tests/test_plugins.py": textwrap.dedent(
                """
                import os
                import sys

                import pytest


                @pytest.mark.timeout(60)
                def test_uses_the_cache(cache):
                    cache.set("drover/probe", 1)
                    assert cache.get("drover/probe", None) == 1


                def test_sees_nothing_of_drover_but_its_plugin(pytestconfig):
                    drover = ("drover_agent", "engine", "api", "drover_collect")
                    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in drover)
                    if not os.environ.get("DROVER_SHARD"):
                        assert loaded == []  # the plain run
                        return
                    assert loaded == [
                        "drover_agent",
                        "drover_agent.pytest_plugin",
                        "drover_agent.pytest_protocol",
                        "drover_agent.real_clock",
                        "drover_agent.steal_board",
                    ]
                    plugin = sys.modules["drover_agent.pytest_plugin"]
                    assert pytestconfig.pluginmanager.is_registered(plugin)
                    assert pytestconfig.pluginmanager.has_plugin("timeout")
                    assert not pytestconfig.pluginmanager.has_plugin("schemathesis")
                """
            ),
        },
    )
    ids = ["tests/test_plugins.py"]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", f"cache_dir={tmp_path / 'plain-cache'}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 0, plain.stdout
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": ids}, path=str(project))
    results = tmp_path / "results.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "drover_agent", "run", "--plan-dir", str(plan)),
            *("--workspace", str(project), "--group", "main.all", "--shard", "0"),
            *("--results", str(results)),
        ],
        env={**env, "PYTHONPATH": str(AGENT_DIR)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout
    (result,) = read_results(results)["results"]
    assert (result["status"], result["error"]) == ("passed", None)
    assert not (project / ".pytest_cache").exists()  # the cache lives with the agent's reports


def test_selection_paths_list_each_file_or_directory_once() -> None:
    ids = [
        "tests/a.py::test_x[1/2]",
        "tests/b.py::TestC::test_y",
        "tests/a.py::test_z",
        "tests/sub",
        "tests/sub/c.py::test_w",
        "-odd.py::test_v",
    ]
    assert selection_paths(ids) == ["tests/a.py", "tests/b.py", "tests/sub", "-odd.py"]


DATA_COLLECTOR = """\
import pytest


class ExampleItem(pytest.Item):
    def runtest(self):
        assert self.path.read_text()


class ExampleFile(pytest.File):
    def collect(self):
        yield ExampleItem.from_parent(self, name="example")


def pytest_collect_file(file_path, parent):
    if file_path.name != "conftest.py":
        return ExampleFile.from_parent(parent, path=file_path)
"""


def test_a_data_file_a_collector_reads_is_not_imported_as_a_test_module(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """Pygments' example files: any file under tests/examples is an item its conftest reads,
    ``.py`` ones included; a plain run never imports them, nor may a batch (pytest imports a
    file named as an argument whatever ``python_files`` says)."""
    project = write_project(
        tmp_path / "project",
        {
            "pytest.ini": "[pytest]\n",
            "tests/test_plain.py": "def test_plain():\n    pass\n",
            "tests/examples/conftest.py": DATA_COLLECTOR,
            "tests/examples/snippet.py": "print(undefined_name)\n",
            "tests/examples/snippet.txt": "hello\n",
        },
    )
    ids = [s.id for s in discover(DiscoveryRunner.PYTEST, project)]
    assert sorted(ids) == [
        "tests/examples/snippet.py::example",
        "tests/examples/snippet.txt::example",
        "tests/test_plain.py::test_plain",
    ]
    done, results = run_shard(run_agent, tmp_path, project, ids)
    assert done.returncode == 0, done.stdout[-3000:]
    assert {r["status"] for r in results.values()} == {"passed"}


def test_tests_sharing_one_node_id_fail_together(tmp_path: Path, run_agent: RunAgent) -> None:
    """pyyaml's legacy collector names several items alike: one id, one verdict, the worst."""
    collector = """\
import pytest


class CaseItem(pytest.Item):
    def __init__(self, *, ok, **kw):
        super().__init__(**kw)
        self.ok = ok

    def runtest(self):
        assert self.ok, "the second case of this id fails"


class CaseFile(pytest.File):
    def collect(self):
        yield CaseItem.from_parent(self, name="case", ok=True)
        yield CaseItem.from_parent(self, name="case", ok=False)


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".cases":
        return CaseFile.from_parent(parent, path=file_path)
"""
    project = write_project(
        tmp_path / "project",
        {"pytest.ini": "[pytest]\n", "conftest.py": collector, "data.cases": ""},
    )
    done, results = run_shard(run_agent, tmp_path, project, ["data.cases::case"])
    assert done.returncode == 1, done.stdout[-3000:]
    assert results["data.cases::case"]["status"] == "failed"
    assert "second case" in results["data.cases::case"]["error"]


def test_garbage_the_last_test_leaves_is_finalized_and_reported_as_in_a_plain_run(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    # The plugin freezes the heap once the session is over, so that pytest's exit does not walk
    # it five times more; the one collection it makes first still finalizes what the tests left
    # (here with automatic collection off, so that only that collection can find the cycle), and
    # pytest reports the finalizer's exception as a plain run does.
    test = """
import gc


class Cycle:
    def __init__(self):
        self.me = self

    def __del__(self):
        raise RuntimeError("the finalizer of what the last test left")


def test_leaves_a_cycle():
    gc.disable()
    Cycle()
"""
    project = write_project(tmp_path / "project", {"pytest.ini": "[pytest]\n", "test_gc.py": test})
    done, results = run_shard(run_agent, tmp_path, project, ["test_gc.py::test_leaves_a_cycle"])
    assert results["test_gc.py::test_leaves_a_cycle"]["status"] == "passed"
    output = done.stdout + done.stderr
    assert "PytestUnraisableExceptionWarning" in output, output[-3000:]
    assert "the finalizer of what the last test left" in output


def test_tests_run_with_the_collector_as_the_project_left_it_after_collecting(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    # The plugin pauses automatic garbage collection while pytest collects (threshold 0): the
    # tests then find the thresholds as they were, or as a module set them while it was
    # imported, and a module's gc.disable() still holds.
    before = "import gc\n\nBEFORE = gc.get_threshold()\n"  # conftest: read before collecting
    paused = """
import gc

from conftest import BEFORE

AT_IMPORT = gc.get_threshold()


def test_thresholds_are_back():
    assert AT_IMPORT[0] == 0 < BEFORE[0], "collected with automatic collection paused"
    assert gc.get_threshold() == BEFORE and gc.isenabled()
"""
    own = """
import gc

gc.set_threshold(5000, 20, 20)


def test_the_project_s_own_thresholds_stay():
    assert gc.get_threshold() == (5000, 20, 20)
"""
    disabled = """
import gc

gc.disable()


def test_a_disabled_collector_stays_disabled():
    assert not gc.isenabled()
"""
    for name, test in (("paused", paused), ("own", own), ("disabled", disabled)):
        files = {"pytest.ini": "[pytest]\n", "conftest.py": before, f"test_{name}.py": test}
        project = write_project(tmp_path / name, files)
        done, results = run_shard(run_agent, tmp_path / name, project, [f"test_{name}.py"])
        assert done.returncode == 0, done.stdout[-3000:]
        assert [r["status"] for r in results.values()] == ["passed"]


def test_a_case_whose_id_changed_since_discovery_is_named_in_its_error(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """marshmallow parametrizes with the current time: the case discovery named is gone at run
    time, and the error says which case of the function pytest collected in its place."""
    project = write_project(
        tmp_path / "project",
        {
            "tests/test_stamp.py": textwrap.dedent(
                """
                import time

                import pytest


                @pytest.mark.parametrize("stamp", ["fixed", f"at {time.time_ns()}"])
                def test_stamp(stamp):
                    pass
                """
            )
        },
    )
    discovered = "tests/test_stamp.py::test_stamp[at 1]"
    _, results = run_shard(
        run_agent, tmp_path, project, ["tests/test_stamp.py::test_stamp[fixed]", discovered]
    )
    assert results["tests/test_stamp.py::test_stamp[fixed]"]["status"] == "passed"
    error = results[discovered]["error"]
    assert error.startswith(f"{NO_SUCH_TEST}; it collected tests/test_stamp.py::test_stamp[at ")
    assert "give them fixed ids" in error
