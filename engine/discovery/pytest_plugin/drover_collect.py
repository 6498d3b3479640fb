"""A pytest plugin (loaded with ``-p drover_collect``) that writes the collected items as JSON.

It runs inside the test project's pytest process, so it imports nothing from Drover. The file
named by ``DROVER_COLLECT_OUTPUT`` receives one entry per collected item: the node id made
relative to the directory pytest was invoked in, the test name, its marker names, whether its
file lies outside that directory, and (when sliced, below) the place of its file in pytest's
walk of the project. Beside it,
``<file>.context.json`` names the session's rootdir, configuration file and conftest files.

With ``DROVER_COLLECT_SLICE=K/N`` and ``DROVER_COLLECT_CLAIMS=DIR`` the process is one of N
collecting the project side by side: each walks the whole tree as pytest always does (conftest
files, ``collect_ignore``, ``-k``, ``--deselect`` all apply as usual) but collects only the
files it claims: as pytest comes to collect a file, the first process to create its claim in
DIR (``O_EXCL``, named by the path's digest) collects it, and the others pass over it,
importing it when it is a test module (as a single process would, for what importing it does
to the rest). A process
busy with a slow file (a module parametrizing 50,000 cases) leaves the files after it to the
others, however few bytes that file has. ``conftest.py`` and ``__init__.py`` are never
claimed: every process needs them. Each item's place in the walk orders the merged list, and
that holds only while the tree stands still, so the context names a digest of the walk:
processes that walked different trees ordered differently, and Drover collects again in one
process.

Collecting measures no coverage and writes no report: pytest-cov (``--cov`` in ``addopts`` is
common), ``--junitxml``, pytest-html's ``--html`` or ``--report-log`` would write into the
project, over the reports of its last real run, and processes side by side would each see the
other's files appear.

While it collects, no automatic garbage collection runs (packaging's largest file collects in
2.4 s instead of 3.0). Once the items are collected the process only reports them and exits,
so the plugin freezes the heap (``gc.freeze``) first: pytest's exit then runs five full
collections (its ``unraisableexception`` cleanup) and the interpreter one more, each walking
every collected item and imported module, which cost packaging's 62,000 tests seconds per
process.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
from collections.abc import Generator
from pathlib import Path

import pytest

OUTPUT_VARIABLE = "DROVER_COLLECT_OUTPUT"
SLICE_VARIABLE = "DROVER_COLLECT_SLICE"
CLAIMS_VARIABLE = "DROVER_COLLECT_CLAIMS"
SHARED_FILES = frozenset({"conftest.py", "__init__.py"})
CONTEXT_SUFFIX = ".context.json"
"""Beside the items: the session's rootdir, configuration file and the conftest files it loaded."""


class Walk:
    """The files and directories pytest considered, numbered in the order it did: the same in
    every process that walked the same tree."""

    def __init__(self) -> None:
        self.seen: dict[Path, int] = {}
        self.places: dict[Path, list[int]] = {}
        """Each item's file's place, once the walk is over (a file holds many items)."""

    def note(self, path: Path) -> None:
        self.seen.setdefault(path, len(self.seen))

    def place(self, path: Path | None) -> list[int]:
        """Where pytest's depth-first walk meets ``path``: the numbers of its folders and its
        own, as they sort in every process (a folder's entries are numbered when pytest opens
        it, so siblings sort in pytest's order and a subtree stays together)."""
        if path is None:
            return []
        if path not in self.places:
            self.places[path] = [
                self.seen[p] for p in (*reversed(path.parents), path) if p in self.seen
            ]
        return self.places[path]

    def digest(self) -> str:
        """The walk as this process made it: processes that walked alike have the same."""
        walk = hashlib.sha256()
        for path in self.seen:
            walk.update(os.fsencode(path) + b"\0")
        return walk.hexdigest()


class FileClaims:
    """Which process collects a file: the first to claim it in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.mine: dict[Path, bool] = {}

    def claims(self, path: Path) -> bool:
        """Whether this process collects ``path`` (asked again for the same path, as with
        ``--doctest-modules``, it answers the same)."""
        if path not in self.mine:
            name = hashlib.sha256(os.fsencode(path)).hexdigest()
            try:
                os.close(os.open(self.directory / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                self.mine[path] = False
            else:
                self.mine[path] = True
        return self.mine[path]


def _claims_from_environment() -> FileClaims | None:
    index, _, count = os.environ.get(SLICE_VARIABLE, "").partition("/")
    directory = os.environ.get(CLAIMS_VARIABLE, "")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count) and directory):
        return None
    return FileClaims(Path(directory))


_claims = _claims_from_environment()
_walk = Walk() if _claims is not None else None


if hasattr(pytest, "version_tuple"):
    # pytest 7 named the hook's argument ``collection_path``; an older one collects everything
    # in every process (the items are merged by node id all the same).

    @pytest.hookimpl(trylast=True)
    def pytest_ignore_collect(collection_path: Path) -> None:
        # trylast: only paths nothing else ignored get here, the same ones in every process.
        if _walk is not None:
            _walk.note(collection_path)

    @pytest.hookimpl(tryfirst=True)
    def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport | None:
        """An empty collection for a file another process claimed; a test module is imported
        all the same, as a single process would have imported it at this point of the walk:
        importing one may change how the next are collected (markdown's test_legacy.py turns
        warnings into errors, which makes a later module's collection fail, as it does
        natively and in the worker that runs them, whose pytest imports it too)."""
        if _claims is None or not _claimable(collector):
            return None
        if _claims.claims(collector.path):
            return None
        if isinstance(collector, pytest.Module):
            try:
                collector.obj  # noqa: B018 - imports it
            except KeyboardInterrupt:
                raise
            except BaseException:  # the process that claimed it reports its import error
                pass
        return pytest.CollectReport(collector.nodeid, "passed", None, [])


def _claimable(collector: pytest.Collector) -> bool:
    """A file's collector (a module, a doctest file, a plugin's own kind), not a package's
    (pytest 7 makes ``__init__.py`` a module of the package) nor a conftest's."""
    return (
        isinstance(collector, pytest.File)
        and not isinstance(collector, pytest.Package)
        and collector.path.name not in SHARED_FILES
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None, None, None]:
    # What pytest-cov's --no-cov sets, before its own hook reads it and starts measuring.
    if os.environ.get(OUTPUT_VARIABLE):
        early_config.known_args_namespace.no_cov = True
    yield


REPORT_OPTIONS = ("xmlpath", "htmlpath", "report_log")
"""Where ``--junitxml``, pytest-html's ``--html`` and pytest-reportlog's ``--report-log`` keep
their file: each plugin writes its report only when its option is set."""


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(OUTPUT_VARIABLE):
        for name in REPORT_OPTIONS:
            if getattr(config.option, name, None):
                setattr(config.option, name, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, None, None]:
    # No automatic garbage collection while collecting: the imported modules and the items live
    # on, and every full collection would walk them again as they pile up.
    before = gc.get_threshold()
    if os.environ.get(OUTPUT_VARIABLE):
        gc.set_threshold(0, *before[1:])
    yield
    gc.set_threshold(*before)


def pytest_collection_finish(session: pytest.Session) -> None:
    target = os.environ.get(OUTPUT_VARIABLE)
    if not target:
        return
    gc.freeze()  # nothing runs after collection: no garbage worth walking the heap for
    invocation_dir = session.config.invocation_params.dir
    rootdir = session.config.rootpath
    items = [
        {
            "nodeid": _relative_nodeid(item.nodeid, rootdir, invocation_dir),
            "name": item.name,
            "markers": list(dict.fromkeys(m.name for m in item.iter_markers())),
            "place": _walk.place(getattr(item, "path", None)) if _walk else [],
            "outside": not _within(getattr(item, "path", None), invocation_dir),
        }
        for item in session.items
    ]
    Path(target).write_text(json.dumps(items), encoding="utf-8")
    # What else the session read: Drover's workers get the project's directory only.
    conftests = [
        str(getattr(plugin, "__file__", ""))
        for plugin in session.config.pluginmanager.get_plugins()
        if str(getattr(plugin, "__file__", "")).endswith("conftest.py")
    ]
    inifile = session.config.inipath
    context: dict[str, object] = {
        "rootdir": str(rootdir),
        "inifile": str(inifile) if inifile else None,
        "conftests": sorted(conftests),
        "walk": _walk.digest() if _walk else None,
    }
    Path(target + CONTEXT_SUFFIX).write_text(json.dumps(context), encoding="utf-8")


# Items share their files: what is worked out from a path is cached, once per file.


@functools.cache
def _within(path: Path | None, directory: Path) -> bool:
    """Whether the item's file lies in ``directory`` (an item without a file counts as in)."""
    if path is None:
        return True
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))


def _relative_nodeid(nodeid: str, rootdir: Path, invocation_dir: Path) -> str:
    # Node ids are relative to pytest's rootdir; the agent passes them to a pytest started in the
    # project directory, where they must resolve the same way.
    file_part, sep, rest = nodeid.partition("::")
    relative = _relative_file(file_part, rootdir, invocation_dir)
    return nodeid if relative is None else relative + sep + rest


@functools.cache
def _relative_file(file_part: str, rootdir: Path, invocation_dir: Path) -> str | None:
    relative = os.path.relpath(rootdir / file_part, invocation_dir)
    return None if relative.startswith("..") else Path(relative).as_posix()
