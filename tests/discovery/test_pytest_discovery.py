"""pytest discovery against the real example project and real broken projects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.discovery import DiscoveryRunner, discover
from engine.discovery.pytest_collection import discover_pytest, merge_collected_items
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


def _module_that_logs(name: str, log: Path, tests: int, *, when_collected: str = "") -> str:
    """A test module that logs ``NAME imported PID`` when imported and ``NAME collected PID``
    when pytest collects its tests (then runs ``when_collected``)."""
    lines = [
        "import os",
        "def _log(event):",
        f"    with open({str(log)!r}, 'a') as log:",
        f"        log.write(f'{name} {{event}} {{os.getpid()}}\\n')",
        "_log('imported')",
        "def pytest_generate_tests(metafunc):",
        "    _log('collected')",
        *[f"    {line}" for line in when_collected.splitlines()],
    ]
    lines += [f"def test_{name}_{n}():\n    pass" for n in range(tests)]
    return "\n".join(lines) + "\n"


def _pids(log: Path, event: str) -> dict[str, set[str]]:
    """Per module, the processes that logged ``event``."""
    pids: dict[str, set[str]] = {}
    for name, logged, pid in (line.split() for line in log.read_text().splitlines()):
        if logged == event:
            pids.setdefault(name, set()).add(pid)
    return pids


def test_processes_side_by_side_collect_each_file_once_and_import_every_one(
    tmp_path: Path,
) -> None:
    # Three pytest processes walk the same tree; each collects only the files it claimed but
    # imports every test module where the walk meets it (importing one may change how the next
    # collects, as in one process), every process loads the conftest, and the merged list is
    # what one process collects.
    log = tmp_path / "imports.log"
    project = tmp_path / "project"
    (project / "tests" / "deep").mkdir(parents=True)
    (project / "tests" / "conftest.py").write_text(_module_that_logs("conftest", log, 0))
    files = {
        "tests/test_a.py": 3,
        "tests/deep/test_b.py": 40,
        "tests/test_c.py": 1,
        "tests/deep/test_d.py": 2,
        "test_e.py": 5,
    }
    for relative, tests in files.items():
        (project / relative).write_text(_module_that_logs(Path(relative).stem, log, tests))

    alone = discover_pytest(project, jobs=1)
    assert [s.id for s in alone] == collect_only_ids(project)
    log.unlink()
    side_by_side = discover_pytest(project, jobs=3)

    assert [s.id for s in side_by_side] == [s.id for s in alone]
    collected, imported = _pids(log, "collected"), _pids(log, "imported")
    del collected["conftest"]  # its hook hears of every module's collection
    assert {name: len(pids) for name, pids in collected.items()} == {Path(r).stem: 1 for r in files}
    assert {name: len(pids) for name, pids in imported.items()} == {
        "conftest": 3,
        **{Path(r).stem: 3 for r in files},
    }


def test_a_file_slow_to_collect_leaves_the_files_after_it_to_the_other_process(
    tmp_path: Path,
) -> None:
    # test_a.py, small and first in the walk, takes until every other file has been collected:
    # only the other process can have collected them, so it must have claimed them all (files
    # dealt out beforehand, by bytes, would leave some to the busy process, which then waits
    # for itself until test_a.py gives up).
    log = tmp_path / "imports.log"
    done = tmp_path / "others-collected"
    project = tmp_path / "project"
    project.mkdir()
    others = [f"test_{letter}" for letter in "bcdefg"]
    slow = (
        "import time\n"
        "deadline = time.monotonic() + 30\n"
        f"while not os.path.exists({str(done)!r}) and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
    )
    (project / "test_a.py").write_text(_module_that_logs("a", log, 1, when_collected=slow))
    for name in others:
        last = f"open({str(done)!r}, 'w').close()" if name == others[-1] else ""
        (project / f"{name}.py").write_text(_module_that_logs(name, log, 50, when_collected=last))

    discovered = discover_pytest(project, jobs=2)

    collected = _pids(log, "collected")
    assert {pid for name in others for pid in collected[name]} == collected[others[0]]
    assert collected["a"] != collected[others[0]]
    assert [s.id for s in discovered] == collect_only_ids(project)


def test_what_importing_a_module_does_applies_to_the_files_after_it(tmp_path: Path) -> None:
    """markdown's test_legacy.py turns warnings into errors when imported, which makes pytest's
    warning about a later module's class with an ``__init__`` a collection error: pytest
    refuses the suite, and discovery must too, whichever process collects which file."""
    project = tmp_path / "project"
    project.mkdir()
    # The process that collects test_a waits until test_b is imported: by the other process.
    b_imported = tmp_path / "b-imported"
    (project / "test_a_legacy.py").write_text(
        "import os, time, warnings\n"
        "warnings.simplefilter('error')\n"
        "def pytest_generate_tests(metafunc):\n"
        "    deadline = time.monotonic() + 30\n"
        f"    while not os.path.exists({str(b_imported)!r}) and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n"
        "def test_a():\n    pass\n"
    )
    (project / "test_b_suite.py").write_text(
        f"open({str(b_imported)!r}, 'w').close()\n"
        "class TestSuite:\n    def __init__(self):\n        pass\n"
        "def test_b():\n    pass\n"
    )
    b_imported.touch()  # one process imports test_b after test_a: nothing to wait for
    with pytest.raises(DiscoveryError, match="TestSuite"):
        discover_pytest(project, jobs=1)
    b_imported.unlink()
    with pytest.raises(DiscoveryError, match="TestSuite"):
        discover_pytest(project, jobs=2)


def test_a_collection_error_in_one_process_fails_the_whole_discovery(tmp_path: Path) -> None:
    for n in range(4):
        (tmp_path / f"test_fine_{n}.py").write_text("def test_ok():\n    pass\n")
    (tmp_path / "test_broken.py").write_text("import no_such_module_here\n")
    with pytest.raises(DiscoveryError, match="no_such_module_here"):
        discover_pytest(tmp_path, jobs=2)


def test_merged_lists_follow_the_walk_and_keep_a_node_id_once() -> None:
    one = [
        {"nodeid": "b/test_x.py::t", "place": [0, 2]},
        {"nodeid": "pkg/__init__.py::t", "place": []},
    ]
    two = [
        {"nodeid": "a/test_y.py::t1", "place": [0, 1]},
        {"nodeid": "a/test_y.py::t0", "place": [0, 1]},
        {"nodeid": "pkg/__init__.py::t", "place": []},
        {"nodeid": "test_z.py::t", "place": [3]},
    ]
    assert [item["nodeid"] for item in merge_collected_items([one, two])] == [
        "pkg/__init__.py::t",
        "a/test_y.py::t1",
        "a/test_y.py::t0",
        "b/test_x.py::t",
        "test_z.py::t",
    ]


def test_side_by_side_collection_keeps_testpaths_doctests_and_ignores(tmp_path: Path) -> None:
    # testpaths in their order, doctests of a package's __init__.py (which every process
    # collects), a directory the conftest ignores: the same list, in the same order, as one
    # pytest process collects.
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ntestpaths = tests src other\naddopts = --doctest-modules\n"
    )
    doctest = '    """\n    >>> {name}(2)\n    {result}\n    """\n'
    (tmp_path / "src" / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text(
        "def double(x):\n" + doctest.format(name="double", result=4) + "    return 2 * x\n"
    )
    (tmp_path / "src" / "pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "src" / "pkg" / "sub" / "mod.py").write_text(
        "def triple(x):\n" + doctest.format(name="triple", result=6) + "    return 3 * x\n"
    )
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "ignored").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text('collect_ignore = ["ignored"]\n')
    (tmp_path / "tests" / "ignored" / "test_never.py").write_text("def test_never():\n    pass\n")
    for name in "abc":
        (tmp_path / "tests" / "unit" / f"test_{name}.py").write_text(
            "import pytest\n\n@pytest.mark.parametrize('n', range(3))\n"
            f"def test_{name}(n):\n    pass\n\nclass TestK:\n    def test_m(self):\n        pass\n"
        )
    (tmp_path / "tests" / "test_top.py").write_text("def test_top():\n    pass\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "test_o.py").write_text("def test_other():\n    pass\n")

    expected = collect_only_ids(tmp_path)
    assert "src/pkg/__init__.py::pkg.double" in expected and len(expected) == 16
    for jobs in (2, 3):
        assert [s.id for s in discover_pytest(tmp_path, jobs=jobs)] == expected


def test_a_conftest_above_the_project_is_refused_with_the_directory_to_use(
    tmp_path: Path,
) -> None:
    """Workers get the project's directory only: a fixture from a conftest above it would be
    missing from every test that uses it."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef answer():\n    return 42\n"
    )
    project = tmp_path / "pkg"
    project.mkdir()
    (project / "test_x.py").write_text("def test_one(answer):\n    assert answer == 42\n")
    with pytest.raises(DiscoveryError) as caught:
        discover(DiscoveryRunner.PYTEST, project)
    assert str(tmp_path / "conftest.py") in str(caught.value)
    assert str(tmp_path) in str(caught.value).rpartition("rootdir")[2]


def test_tests_outside_the_project_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--pyargs`` collects an installed package's tests: no file of the project holds them."""
    package = tmp_path / "site" / "elsewhere_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "test_inside.py").write_text("def test_two():\n    pass\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\naddopts = --pyargs elsewhere_pkg\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    with pytest.raises(DiscoveryError, match="--pyargs"):
        discover(DiscoveryRunner.PYTEST, project)


def test_discovery_imports_test_modules_without_rewriting_their_asserts(tmp_path: Path) -> None:
    # pytest rewrites a test module's asserts when it imports it (parse, rewrite, compile: half
    # of a collection); discovery runs no test, so it skips that, and the ids stay pytest's.
    record = tmp_path / "rewritten.txt"
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(
        "import sys\n"
        "def pytest_collection_finish(session):\n"
        "    module = sys.modules['test_asserts']\n"
        "    rewritten = any(name.startswith('@py') for name in vars(module))\n"
        f"    open({str(record)!r}, 'a').write(str(rewritten) + '\\n')\n"
    )
    (project / "test_asserts.py").write_text(
        "import pytest\n"
        "@pytest.mark.parametrize('n', [1, 2])\n"
        "def test_counts(n):\n"
        "    assert n > 0, 'positive'\n"
    )

    native_ids = collect_only_ids(project)
    discovered = discover_pytest(project, jobs=1)

    assert [s.id for s in discovered] == native_ids
    assert record.read_text().splitlines() == ["True", "False"]  # pytest alone, then discovery


def _project(
    tmp_path: Path, files: dict[str, str], test: str = "def test_it():\n    pass\n"
) -> Path:
    """A project of ``files`` beside four test modules, test_1.py to test_4.py, each ``test``."""
    project = tmp_path / "project"
    for relative, text in {**files, **{f"test_{n}.py": test for n in range(1, 5)}}.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text)
    return project


def test_processes_that_walked_different_trees_collect_again_in_one(tmp_path: Path) -> None:
    # The merged list is ordered by where each process's walk met each file; here the first
    # one does not meet a_notes.txt (as when a file appears during discovery), so the two
    # number the files differently and their places do not compare.
    conftest = (
        "import os\n"
        "def pytest_ignore_collect(collection_path):\n"
        "    first = os.environ.get('DROVER_COLLECT_SLICE', '').startswith('0/')\n"
        "    return True if first and collection_path.name == 'a_notes.txt' else None\n"
    )
    project = _project(tmp_path, {"conftest.py": conftest, "a_notes.txt": "not a test\n"})

    discovered = discover_pytest(project, jobs=2)

    assert [s.id for s in discovered] == collect_only_ids(project)


def test_discovery_measures_no_coverage_where_addopts_ask_for_it(tmp_path: Path) -> None:
    # pytest-cov would write .coverage and coverage.xml into the project, and the processes
    # collecting side by side would meet each other's data files in their walks.
    files = {
        "pkg/__init__.py": "VALUE = 1\n",
        "requirements-test.txt": "pytest\npytest-cov\n",
        # -p: this module's tests turn plugin autoload off
        "pytest.ini": "[pytest]\naddopts = -p pytest_cov --cov=pkg --cov-report=xml --cov-report=term\n",
    }
    project = _project(tmp_path, files, "import pkg\ndef test_it():\n    assert pkg.VALUE\n")
    before = sorted(p.name for p in project.iterdir())

    discovered = discover_pytest(project, jobs=2)

    assert sorted(p.name for p in project.iterdir()) == before
    assert [s.id for s in discovered] == collect_only_ids(project)


def test_discovery_writes_no_junit_report_where_addopts_ask_for_one(tmp_path: Path) -> None:
    # The project's last real report stays as it was, and no process meets another's reports/.
    ini = "[pytest]\naddopts = --junitxml=reports/junit.xml\n"
    project = _project(tmp_path, {"pytest.ini": ini})

    discovered = discover_pytest(project, jobs=2)

    assert not (project / "reports").exists()
    assert [s.id for s in discovered] == collect_only_ids(project)
