"""Drover's pytest plugin, which the agent loads explicitly (``-p drover_agent.pytest_plugin``).

It runs inside the project's pytest process and imports nothing else of Drover's (only the
standard-library modules it shares with the agent, :mod:`drover_agent.pytest_protocol`,
:mod:`drover_agent.steal_board` and :mod:`drover_agent.real_clock`). Its jobs:

Selection (``--drover-select FILE``)
    ``FILE`` holds ``{"ids": [...], "paths": [...], "unmatched": PATH}``: the batch's scenario
    ids, in the plan's order, and the files and directories they live in. pytest runs without
    path arguments and walks the tree as a bare pytest does (every directory, every conftest),
    but the plugin ignores any other file (``pytest_ignore_collect``): a file named as an
    argument would be collected even where no collector wants it (``python_files`` and doctest
    globs do not apply to arguments), importing data files a plain run never imports. The test
    modules (``python_files``) it passes over are still imported where the walk meets them, as
    a bare run's collection imports them, but make no tests: a suite's tests may rely on what
    another file imports (structlog's on ``multiprocessing``, which only its test_utils.py
    imports) or on what importing it did before the next file was collected (markdown's
    test_legacy.py turns warnings into errors), and pytest-xdist's workers, which collect
    everything, keep that too; one that fails to import is passed over silently, as its tests
    are not in the batch. Once pytest
    has collected, the plugin keeps the tests an id names and deselects the rest through
    ``pytest_deselected``, so one
    pytest session runs any number of ids without pytest matching each one as an argument. An
    id names a test (``file.py::Class::test[params]``), every case of a parametrized function
    (its id without parameters), a class, a file or a directory. Node ids are compared as
    discovery wrote them: relative to the directory pytest was started in (the workspace), not
    to pytest's rootdir. Kept tests run in the order of the ids that name them (a test named by
    a file id keeps its place within the file), as they did when the ids were arguments; this
    happens before other plugins' ``pytest_collection_modifyitems`` (fixture-scope grouping,
    ``-k``/``-m``, random ordering plugins), which then apply as usual. The ids no collected test
    matches are written to ``PATH`` as a JSON list. A test function no id names, whole or by a
    case, makes no tests (``pytest_pycollect_makeitem``), and one none of whose ids names it
    whole keeps only its named cases as it is parametrized (``pytest_generate_tests``): the
    cases of a batch's peers are never made into tests.

Live results (``DROVER_LIVE_RESULTS``)
    When a test's last phase (teardown) is reported, the plugin appends
    ``{"nodeid", "status", "duration", "cost", "error", "attempt"}`` to the file named by that
    variable, in a single ``write`` on a file opened for appending, so lines from several
    processes (pytest-xdist) never interleave. The agent tails the file to report each scenario
    while pytest still runs. The status is the one pytest's JUnit report gives the same test: a
    failed call is a failure, a failed setup or teardown an error, a skip or an expected failure
    a skip. A collector that fails (a test module that cannot be imported) or skips itself
    (``allow_module_level``) gets a line of its own, as it gets a testcase in pytest's JUnit
    report.

Cost (``"cost"`` in each result line)
    What the test cost the session, in seconds: the wall time since the test before it ended
    (since collection ended, for the first), which holds pytest's own hooks and reports besides
    the test's phases, plus its share of collecting its file (the time its module and classes
    took to import and collect, over the tests collected from the file). A worker's costs add
    up to its session less start-up, where the durations pytest reports leave out a millisecond
    a test and every import: plans balanced on them are off by seconds for short tests.

Progress (``"progress"`` in the selection file)
    The session's record, which the agent reads its results from, whether or not they are
    followed live: first ``{"rootdir", "invocation"}`` (node ids are relative to the rootdir),
    then a ``{"started": nodeid}`` line as each test starts and its result line (as above) when
    it ends, and ``{"finished": exitstatus}`` as the session ends, written on a descriptor held
    open for the session. pytest's own JUnit report is not asked for: it cost packaging's tests
    ~90 µs each (4.7 s of a 34 s session). When pytest dies before its end (a test that crashes
    the interpreter or calls ``os._exit``), the agent knows from the missing last line, and the
    file still says what ran, with what outcome, and which test was running.

Work stealing (``"board"`` in the selection file)
    ``{"path", "total", "positions"}``: the worker's steal board (:mod:`drover_agent.steal_board`)
    and each id's position on it. Before a test runs, the plugin claims its position (and a few
    after it, as many as about 50 ms of this session's pace, so claims stay cheap); a test whose
    position a peer took already is passed over unreported (``pytest_runtest_protocol`` answers
    for it), and the agent leaves it to that peer. Under pytest-xdist the session claims all its
    positions up front: its tests run in no predictable order.

Artifacts (``DROVER_ARTIFACTS_BASE``)
    Each test runs with ``DROVER_ARTIFACTS_DIR`` naming an empty directory of its own; what the
    test writes there is kept with its result (``index.jsonl`` in the base maps node ids, as
    discovery writes them, to directories). A directory left empty serves the next test; the
    last one is removed at the end of the session.

The heap, while collecting (``pytest_collection``) and once the session is over
(``pytest_sessionfinish``)
    No automatic garbage collection while the tests are collected (see ``_pause_collector``).
    Collected once, then frozen (``gc.freeze``): what pytest and the interpreter do on their way
    out then skips what every worker would otherwise walk again (see ``_freeze_heap``).
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from drover_agent.pytest_protocol import (
    ARTIFACTS_BASE_ENV,
    ARTIFACTS_ENV,
    ARTIFACTS_INDEX,
    LIVE_RESULTS_ENV,
    SELECT_OPTION,
)
from drover_agent.real_clock import RealClock
from drover_agent.steal_board import claim

__all__ = [
    "item_keys",
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_collection_finish",
    "pytest_collection_modifyitems",
    "pytest_collectreport",
    "pytest_collectstart",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_ignore_collect",
    "pytest_pycollect_makeitem",
    "pytest_runtest_logreport",
    "pytest_runtest_logstart",
    "pytest_runtest_protocol",
    "pytest_sessionfinish",
    "pytest_unconfigure",
]

ERROR_TEXT_LIMIT = 4000

# Reports of the phases seen so far, per test, until its teardown arrives.
_phases: dict[str, list[pytest.TestReport]] = {}


class _Costs:
    """The ``"cost"`` of each test (see the module's docstring)."""

    def __init__(self) -> None:
        self.collecting: dict[str, float] = {}
        """Collectors started and not yet reported: node id → start."""
        self.collected: dict[str, float] = {}
        """Seconds spent collecting each file (its module and the classes in it)."""
        self.share: dict[str, float] = {}
        """Each file's collection seconds over the tests collected from it."""
        self.last_end = RealClock.perf()

    def collect_started(self, nodeid: str) -> None:
        self.collecting[nodeid] = RealClock.perf()

    def collect_reported(self, nodeid: str) -> None:
        started = self.collecting.pop(nodeid, None)
        if started is not None:  # a directory's time is its own: no test's file part names it
            file_part = nodeid.partition("::")[0]
            self.collected[file_part] = (
                self.collected.get(file_part, 0.0) + RealClock.perf() - started
            )

    def spread(self, items: list[pytest.Item]) -> None:
        """Share each file's collection among the tests collected from it."""
        tests: dict[str, int] = {}
        for item in items:
            file_part = item.nodeid.partition("::")[0]
            tests[file_part] = tests.get(file_part, 0) + 1
        self.share = {f: self.collected.get(f, 0.0) / n for f, n in tests.items()}

    def tests_start(self) -> None:
        """The clock starts for the first test: nothing before it is any test's."""
        self.last_end = RealClock.perf()

    def ended(self, nodeid: str) -> float:
        now = RealClock.perf()
        cost = now - self.last_end + self.share.get(nodeid.partition("::")[0], 0.0)
        self.last_end = now
        return cost


_costs = _Costs()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("drover").addoption(
        SELECT_OPTION,
        dest="drover_select",
        metavar="FILE",
        default=None,
        help="run only the tests the scenario ids in FILE name (Drover's agent writes it)",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """Collect with the cyclic garbage collector paused (see ``_pause_collector``)."""
    if not session.config.getoption("drover_select", None):
        yield
        return
    with _pause_collector():
        yield


@contextlib.contextmanager
def _pause_collector() -> Iterator[None]:
    """No automatic garbage collection meanwhile (threshold 0), as it was afterwards.

    Collecting imports the test modules and builds every item: objects that live on, which each
    full collection walks again while they pile up (packaging's largest file: 0.6 s of its 3 s of
    collecting). Tests run as usual: the thresholds are back before the first one, unless the
    project set its own meanwhile; a ``gc.disable()`` it made stays in force, and ``gc.collect()``
    works throughout.
    """
    before = gc.get_threshold()
    paused = (0, *before[1:])
    gc.set_threshold(*paused)
    try:
        yield
    finally:
        if gc.get_threshold() == paused:
            gc.set_threshold(*before)


def pytest_collectstart(collector: pytest.Collector) -> None:
    _costs.collect_started(collector.nodeid)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _costs.collect_reported(report.nodeid)
    if not report.passed:  # pytest's JUnit report makes a testcase of the collector
        status = "error" if report.failed else "skipped"
        _record({"nodeid": report.nodeid, "status": status, "duration": 0.0, "cost": None,
                 "error": _message(report), "attempt": _attempt()})  # fmt: skip


@pytest.hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    _costs.spread(items)
    document = config.stash.get(_SELECTION, None)
    if document is not None:
        _select(config, items, document)
    yield


def pytest_collection_finish(session: pytest.Session) -> None:
    _costs.tests_start()


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> list[pytest.Item] | None:
    """A test function that no id of the batch names, nor its class, file or directory, nor
    any of its cases, makes no tests: it is not even parametrized (packaging's test_version.py
    makes 12,700 cases of each of two functions: 0.35 s for a batch that runs only one)."""
    named = collector.config.stash.get(_NAMED, None)
    is_test = getattr(collector, "istestfunction", None)
    if named is None or is_test is None or not is_test(obj, name):
        return None
    function = named.to_workspace(f"{collector.nodeid}::{name}")
    if function in named.holders or named.names_whole(function):
        return None
    return []


@pytest.hookimpl(hookwrapper=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> Iterator[None]:
    """Cases of a parametrized function that no id of the batch names are dropped once every
    ``pytest_generate_tests`` has parametrized it, before pytest makes a test of each case: a
    batch of a module with 50,000 cases (packaging's test_version.py) then pays for the cases
    it runs, not for every case of the module (about 0.1 ms each) only to deselect most."""
    yield
    named = metafunc.config.stash.get(_NAMED, None)
    if named is not None:
        _drop_unnamed_cases(metafunc, named)


class _SelectedPaths:
    """The files and directories a batch's ids live in, absolute: a file elsewhere is ignored."""

    def __init__(self, base: Path, paths: list[str]) -> None:
        self.plain = {base / p for p in paths}
        self.real = {Path(os.path.realpath(p)) for p in self.plain}

    def keeps(self, path: Path) -> bool:
        if path in self.plain or any(p in self.plain for p in path.parents):
            return True
        real = Path(os.path.realpath(path))  # the workspace reached through a symbolic link
        return real in self.real or any(p in self.real for p in real.parents)


class _ProgressLog:
    """The ``"progress"`` file: appended to, one ``write`` per line, never reopened."""

    def __init__(self, path: str) -> None:
        self.descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, data: bytes) -> None:
        os.write(self.descriptor, data)

    def close(self) -> None:
        os.close(self.descriptor)


_selected: _SelectedPaths | None = None
_passed_over: set[Path] = set()
"""Test modules of the walk that no id of the batch lives in (imported, not collected)."""
_progress: _ProgressLog | None = None
_xdist_worker = False
"""This session is a pytest-xdist worker: its controller records the tests it runs."""
_SELECTION = pytest.StashKey[dict[str, Any]]()
"""The selection file's document, read once per session."""


def pytest_configure(config: pytest.Config) -> None:
    global _selected, _progress, _xdist_worker
    target = config.getoption("drover_select", None)
    _selected = None
    _passed_over.clear()
    # Results are recorded by the session that hears of every test: under pytest-xdist its
    # controller, which hears of each test its workers start and end.
    _xdist_worker = hasattr(config, "workerinput")
    if target:
        document = json.loads(Path(target).read_text(encoding="utf-8"))
        config.stash[_SELECTION] = document
        config.stash[_NAMED] = _NamedIds(
            {scenario_id: index for index, scenario_id in enumerate(document["ids"])},
            _WorkspaceIds(config.rootpath, config.invocation_params.dir),
            _holders(document["ids"]),
        )
        if isinstance(document.get("paths"), list):
            _selected = _SelectedPaths(config.invocation_params.dir, document["paths"])
        if isinstance(document.get("progress"), str) and _progress is None and not _xdist_worker:
            _progress = _ProgressLog(document["progress"])
            where = {
                "rootdir": str(config.rootpath),
                "invocation": str(config.invocation_params.dir),
            }
            _progress.write(_line(where))


def pytest_unconfigure(config: pytest.Config) -> None:
    global _progress
    if _progress is not None and config.getoption("drover_select", None):
        _progress.close()
        _progress = None


def pytest_runtest_logstart(nodeid: str) -> None:
    if _progress is not None:
        _progress.write(_line({"started": nodeid}))


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A file no id of the batch lives in is not collected (directories are walked, and
    ``conftest.py`` and ``__init__.py`` files load, as in a bare run), except that a test module
    among them is imported in its place (:func:`pytest_collect_file`). First: the hook stops at
    the first answer, and a project's own may answer False for every path."""
    if _selected is None or collection_path.name in ("conftest.py", "__init__.py"):
        return None
    if not collection_path.is_file() or _selected.keeps(collection_path):
        return None
    if collection_path.suffix == ".py" and any(
        fnmatch.fnmatch(collection_path.name, pattern)
        for pattern in config.getini("python_files")
    ):
        _passed_over.add(collection_path)
        return None
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Iterator[None]:
    """A passed-over test module becomes one node that imports it and collects nothing, in
    place of whatever the collectors made of it (a module, doctests, a linter's item)."""
    outcome = yield
    if file_path in _passed_over:
        outcome.force_result([_ImportOnly.from_parent(parent, path=file_path)])


class _ImportOnly(pytest.Module):
    """A test module imported as pytest imports one, with no tests collected from it."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        try:
            self.obj  # noqa: B018 - imports it
        except KeyboardInterrupt:
            raise
        except BaseException:  # its import error is not this batch's
            pass
        return []


def _select(config: pytest.Config, items: list[pytest.Item], document: dict[str, Any]) -> None:
    position, to_workspace, _ = config.stash[_NAMED]
    matched: set[str] = set()
    kept: list[tuple[int, int, pytest.Item]] = []
    deselected: list[pytest.Item] = []
    for order, item in enumerate(items):
        scenario_id = next((k for k in item_keys(to_workspace(item.nodeid)) if k in position), None)
        if scenario_id is None:
            deselected.append(item)
            continue
        matched.add(scenario_id)
        kept.append((position[scenario_id], order, item))
    kept.sort(key=lambda entry: entry[:2])
    board = document.get("board")
    if board:
        for index, _, item in kept:
            item.stash[_BOARD_POSITION] = int(board["positions"][index])
        guard = _StealGuard(Path(board["path"]), int(board["total"]), under_xdist=_xdist(config))
        config.pluginmanager.register(guard, _StealGuard.NAME)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = [item for _, _, item in kept]
    unmatched = [s for s in document["ids"] if s not in matched]
    if document.get("unmatched"):
        found = _unnamed_cases(config, unmatched, deselected) if unmatched else {}
        report = {s: found.get(_function_of(s), []) for s in unmatched}
        Path(document["unmatched"]).write_text(json.dumps(report), encoding="utf-8")


def _function_of(nodeid: str) -> str:
    """The test function a case's id belongs to: the id without its parameters."""
    path, separator, rest = nodeid.partition("::")
    return f"{path}{separator}{rest.partition('[')[0]}"


def _unnamed_cases(
    config: pytest.Config, unmatched: list[str], deselected: list[pytest.Item]
) -> dict[str, list[str]]:
    """Per function of an id that named no test, a few of its cases no id of the batch names:
    what pytest collected instead when a case's id changes between collections (one built
    from the time or a random value: the plan names the case as discovery saw it)."""
    wanted = {_function_of(s) for s in unmatched}
    found = {f: list(c) for f, c in config.stash.get(_UNNAMED, {}).items() if f in wanted}
    to_workspace = config.stash[_NAMED].to_workspace
    for item in deselected:
        nodeid = to_workspace(item.nodeid)
        function = _function_of(nodeid)
        if function in wanted and nodeid != function:
            cases = found.setdefault(function, [])
            if len(cases) < _SAMPLES:
                cases.append(nodeid)
    return found


def _drop_unnamed_cases(metafunc: pytest.Metafunc, named: _NamedIds) -> None:
    """Keep the cases of ``metafunc`` an id names: all of them when the function (or its
    class, file or directory) is named, else the cases named one by one. pytest makes one
    unparametrized test of a function left with no case, so one case stays (deselected later
    like any test no id names)."""
    calls = getattr(metafunc, "_calls", None)  # what metafunc.parametrize fills
    if not isinstance(calls, list) or len(calls) < 2:
        return
    function = named.to_workspace(metafunc.definition.nodeid)
    if named.names_whole(function):
        return
    kept = []
    unnamed: list[str] = []
    for case in calls:
        # pytest names a case's test ``function[id]``, or ``function`` when it has no id parts.
        case_id = f"{function}[{case.id}]" if getattr(case, "_idlist", case.id) else function
        if case_id in named.ids:
            kept.append(case)
        elif len(unnamed) < _SAMPLES:
            unnamed.append(case_id)
    if unnamed:
        metafunc.config.stash.setdefault(_UNNAMED, {})[function] = unnamed
    metafunc._calls = kept or calls[:1]


class _NamedIds(NamedTuple):
    """The batch's ids (each to its place in the batch), what holds them, and how node ids
    become such ids."""

    ids: dict[str, int]
    to_workspace: _WorkspaceIds
    holders: frozenset[str]
    """The functions, classes and files the ids lie in (``file::Class::function``, without
    parameters)."""

    def names_whole(self, nodeid: str) -> bool:
        """Whether an id names the node ``nodeid`` (a workspace id) or a class, file or
        directory holding it."""
        return any(key in self.ids for key in item_keys(nodeid))


def _holders(ids: Iterable[str]) -> frozenset[str]:
    """What each id lies in or names: :func:`item_keys` of it (its directories too, which no
    function's id equals)."""
    return frozenset(key for scenario_id in ids for key in item_keys(scenario_id))


_NAMED = pytest.StashKey[_NamedIds]()
"""The selection's ids, read once per session with its document."""
_UNNAMED = pytest.StashKey[dict[str, list[str]]]()
"""Per parametrized function, a few of the cases it dropped because no id of the batch names
them (told when an id of the function named no test)."""
_SAMPLES = 3


class _WorkspaceIds:
    """Node id (relative to pytest's rootdir) → the id discovery wrote (relative to the directory
    pytest runs in), computed once per file."""

    def __init__(self, rootdir: Path, invocation_dir: Path) -> None:
        self.rootdir = rootdir
        self.invocation_dir = invocation_dir
        self.same = Path(os.path.realpath(rootdir)) == Path(os.path.realpath(invocation_dir))
        self._files: dict[str, str] = {}

    def __call__(self, nodeid: str) -> str:
        if self.same:
            return nodeid
        file_part, separator, rest = nodeid.partition("::")
        relative = self._files.get(file_part)
        if relative is None:
            relative = os.path.relpath(self.rootdir / file_part, self.invocation_dir)
            relative = file_part if relative.startswith("..") else Path(relative).as_posix()
            self._files[file_part] = relative
        return relative + separator + rest


_BOARD_POSITION = pytest.StashKey[int]()


def _xdist(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput") or bool(getattr(config.option, "numprocesses", None))


class _StealGuard:
    """Claims each test's board position before it runs; passes over the ones a peer took."""

    NAME = "drover-steal-guard"
    CLAIM_SECONDS = 0.05
    """About this much of the session's work per claim (a window of at least one position)."""
    MAX_WINDOW = 1000

    def __init__(self, path: Path, total: int, *, under_xdist: bool) -> None:
        self.path = path
        self.total = total
        self.descriptor = os.open(path, os.O_RDWR)
        self.started = RealClock.monotonic()
        self.claimed = 0
        self.passed_over = False
        """A test was passed over since the last one that ran (see ``pytest_runtest_setup``)."""
        if under_xdist:
            self._claim(0, total)

    def _claim(self, position: int, window: int) -> None:
        elapsed = RealClock.monotonic() - self.started
        self.claimed = claim(self.path, self.descriptor, self.total, position, window, elapsed)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> bool | None:
        position = item.stash.get(_BOARD_POSITION, None)
        if position is None or position < self.claimed:
            return None
        elapsed = RealClock.monotonic() - self.started
        pace = elapsed / self.claimed if self.claimed and elapsed > 0 else 0.0
        window = int(self.CLAIM_SECONDS / pace) if pace > 0 else 1
        self._claim(position, min(max(window, 1), self.MAX_WINDOW))
        if position < self.claimed:
            return None
        self.passed_over = True
        return True  # a peer runs it

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Tear down what the last test that ran kept for a test that was then passed over.

        pytest tears a test down knowing the next one (``nextitem``) and keeps the modules and
        classes they share set up. When that next test is passed over, the one that runs after
        it may not share them (tests do not run in board order when other plugins reorder
        them, pytest's own grouping by higher-scoped parameters among them), and pytest's setup
        would refuse it ("previous item was not torn down properly"). Their finalizers run
        here, so what one raises is this test's setup error.
        """
        if self.passed_over:
            self.passed_over = False
            if hasattr(pytest, "version_tuple"):  # pytest >= 7: teardown_exact(nextitem)
                item.session._setupstate.teardown_exact(item)

    def pytest_unconfigure(self) -> None:
        os.close(self.descriptor)


def item_keys(nodeid: str) -> Iterator[str]:
    """Every id that names the test ``nodeid``, most specific first: itself, its function
    without parameters, its classes, its file and the file's directories."""
    yield nodeid
    path, separator, rest = nodeid.partition("::")
    if separator:
        names, bracket, _ = rest.partition("[")
        parts = names.split("::")
        if bracket:
            yield f"{path}::{names}"
        for end in range(len(parts) - 1, 0, -1):
            yield f"{path}::{'::'.join(parts[:end])}"
        yield path
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _xdist_worker or (_progress is None and not os.environ.get(LIVE_RESULTS_ENV)):
        return
    _phases.setdefault(report.nodeid, []).append(report)
    if report.when != "teardown":
        return
    phases = _phases.pop(report.nodeid)
    status, failing = _status(phases)
    result = {
        "nodeid": report.nodeid,
        "status": status,
        "duration": round(sum(r.duration for r in phases), 3),
        "cost": round(_costs.ended(report.nodeid), 4),
        "error": _message(failing) if failing is not None else None,
        "attempt": _attempt(),
    }
    if report.user_properties:  # record_property's, which pytest's JUnit report would carry
        result["properties"] = [[str(n), str(v)] for n, v in report.user_properties]
    _record(result)


def _attempt() -> int:
    return int(os.environ.get("DROVER_SCENARIO_ATTEMPT") or 1)


def _record(result: dict[str, Any]) -> None:
    """A result line, into the progress file and the live results file (either may be off)."""
    data = _line(result)
    if _progress is not None:
        _progress.write(data)
    path = os.environ.get(LIVE_RESULTS_ENV)
    if not path:
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def _line(document: dict[str, Any]) -> bytes:
    """One JSON line, written in one ``write``."""
    return (json.dumps(document) + "\n").encode("utf-8")


def _status(phases: list[pytest.TestReport]) -> tuple[str, pytest.TestReport | None]:
    """JUnit's verdict: a failed call is a failure, a failed setup or teardown an error."""
    for report in phases:
        if report.when == "call" and report.failed:
            return "failed", report
    for report in phases:
        if report.failed:
            return "error", report
    for report in phases:
        if report.skipped:
            return "skipped", report
    return "passed", None


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        message = str(longrepr[2]).removeprefix("Skipped: ")  # a skip: (file, line, reason)
    else:
        crash = getattr(longrepr, "reprcrash", None)
        message = str(getattr(crash, "message", "") or "") or report.longreprtext
    return message[:ERROR_TEXT_LIMIT] or report.outcome


class _ArtifactDirs:
    """Each test's ``DROVER_ARTIFACTS_DIR``: an empty directory of its own.

    A directory a test left empty is handed, still empty, to the next test instead of being
    removed and made again: creating and removing a directory per test cost more than many short
    tests themselves (``rmdir`` took 1 ms on ext4 mounted with ``discard``). So only a test that
    wrote files costs a new directory, and the variable changes only then; the session ends by
    removing the last, empty one and restoring the variable."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.current: str | None = None
        self.made = 0
        self.previous = os.environ.get(ARTIFACTS_ENV)

    def for_next_test(self) -> None:
        if self.current is None:
            self.made += 1
            self.current = os.path.join(self.base, f"t{os.getpid()}-{self.made}")
            os.makedirs(self.current, exist_ok=True)
            os.environ[ARTIFACTS_ENV] = self.current

    def after_test(self, item: pytest.Item) -> None:
        """Index the directory under the test's id when it wrote files there."""
        if self.current is None or _is_empty(self.current):
            return
        to_workspace = _WorkspaceIds(item.config.rootpath, item.config.invocation_params.dir)
        name = os.path.basename(self.current)
        line = json.dumps({"nodeid": to_workspace(item.nodeid), "dir": name})
        _append(Path(self.base) / ARTIFACTS_INDEX, line)
        self.current = None

    def close(self) -> None:
        if self.current is not None and _is_empty(self.current):
            os.rmdir(self.current)
        self.current = None
        if self.previous is None:
            os.environ.pop(ARTIFACTS_ENV, None)
        else:
            os.environ[ARTIFACTS_ENV] = self.previous


def _is_empty(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return next(entries, None) is None
    except OSError:
        return False  # removed or replaced by the test: leave it to the agent's scan


_artifacts: _ArtifactDirs | None = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Give the test its own empty ``DROVER_ARTIFACTS_DIR``; index it when the test wrote files."""
    global _artifacts
    base = os.environ.get(ARTIFACTS_BASE_ENV)
    if not base:
        yield
        return
    if _artifacts is None or _artifacts.base != base:
        _artifacts = _ArtifactDirs(base)
    _artifacts.for_next_test()
    try:
        yield
    finally:
        _artifacts.after_test(item)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _artifacts
    if _artifacts is not None:
        _artifacts.close()
        _artifacts = None
    if _progress is not None:
        _progress.write(_line({"finished": int(exitstatus)}))
    if session.config.getoption("drover_select", None):
        _freeze_heap()


def _freeze_heap() -> None:
    """Collect the tests' garbage once, then freeze what is left (``gc.freeze``).

    Every test has run and been reported. What follows walks the whole heap six times: pytest's
    ``unraisableexception`` cleanup collects five times in a row, the interpreter once more at
    exit; babel's 13 s run spends 2.3 s there, packaging's more, and each worker would pay it
    again. The one collection here finds what the first of pytest's would (its unraisable
    exceptions are still reported); only garbage that a finalizer leaves behind is not looked
    for again, and at exit the process's memory goes back to the system all the same.
    """
    gc.collect()
    gc.freeze()


def _append(path: Path, line: str) -> None:
    """One ``write`` on a file opened for appending: lines of parallel processes never mix."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, (line + "\n").encode("utf-8"))
    finally:
        os.close(descriptor)
