"""pytest, batched: one pytest session per batch, results read back from the session's record.

The batch's ids go to Drover's pytest plugin (:mod:`drover_agent.pytest_plugin`, loaded with
``-p``) in a file, never as arguments: pytest collects only the files and directories the ids
live in (all of a bare ``pytest``'s when there are too many for one command line) and the plugin
keeps the tests the ids name, so any number of ids costs one collection and no per-id matching.
The plugin records each test's outcome, as pytest's JUnit report would give it, in the session's
progress file. Outcomes are keyed as that report keys its testcases, ``classname.name``, which
pytest derives from the node id (the file path with ``/`` turned into ``.`` and ``.py`` dropped,
then the ``::`` parts) relative to its rootdir. The adapter derives the same key from each
scenario id and matches exactly; an id naming a file, class or directory collects the outcomes
of the tests under it, and a module that failed to import or skipped itself gives its outcome to
the ids inside it. An id whose file is gone, or that names
no collected test (a stale plan), is an error, "pytest found no such test"; the rest still run.
Every batch runs under the configuration file, and so the rootdir, an argument-less pytest in
the workspace uses (see :mod:`drover_agent.runners.pytest_config`), whichever files it names.
"""

from __future__ import annotations

import json
import os
import signal
import site
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from drover_agent.pytest_protocol import (
    ARTIFACTS_BASE_ENV,
    ARTIFACTS_INDEX,
    PLUGIN_ARGS,
    SELECT_OPTION,
)
from drover_agent.results import STATUSES, Status, read_cost, read_properties
from drover_agent.runners.base import BatchContext, BatchRun, Outcome, ProcessRun, run_process
from drover_agent.runners.pytest_config import config_args
from drover_agent.runners.pytest_plugins import foreign_plugins
from drover_agent.stealing import OwnBoard

__all__ = [
    "PytestAdapter",
    "junit_key",
    "match_testcases",
    "no_such_test",
    "rootdir_shift",
    "plugin_env",
    "selection_paths",
]

NO_TESTS_COLLECTED = 5
NO_SUCH_TEST = "pytest found no such test"
WORST_FIRST: tuple[Status, ...] = ("error", "failed", "passed")
ONE_ID_FIRST: tuple[Status, ...] = ("failed", "error", "passed")
"""The message of a module's testcase when the module skipped itself; the reason is the text."""


@dataclass(frozen=True)
class JunitCase:
    key: str
    """``classname.name`` as pytest writes them."""
    outcome: Outcome


def junit_key(node_id: str) -> str:
    """The dotted ``classname.name`` pytest's JUnit report uses for a node id."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = names[0].replace("/", ".").removesuffix(".py")
    names[-1] += bracket + params
    return ".".join(names)


def match_testcases(
    scenario_ids: Sequence[str], cases: Sequence[JunitCase], rootdir_shift: str = ""
) -> dict[str, Outcome]:
    """One outcome per scenario id that the session's record covers.

    ``rootdir_shift``: where pytest's rootdir is, seen from the directory pytest ran in (see
    :func:`rootdir_shift`); the keys derive from node ids relative to the rootdir."""
    grouped: dict[str, list[Outcome]] = {}
    for case in cases:
        grouped.setdefault(case.key, []).append(case.outcome)
    # Several outcomes of one key: tests sharing a node id (a collector naming two items
    # alike). A failure then outranks an error, as it does within one test (a failed call
    # with a teardown error is a failure).
    by_key = {k: v[0] if len(v) == 1 else _combine(v, ONE_ID_FIRST) for k, v in grouped.items()}
    outcomes: dict[str, Outcome] = {}
    for scenario_id in scenario_ids:
        key = _shifted(junit_key(scenario_id), rootdir_shift)
        exact = by_key.get(key)
        if exact is not None:
            outcomes[scenario_id] = exact
            continue
        inner = [o for k, o in by_key.items() if k.startswith((f"{key}.", f"{key}["))]
        if inner:
            outcomes[scenario_id] = _combine(inner)
            continue
        # A module that failed to import, or skipped itself (``allow_module_level``), is
        # reported once, as a testcase of the module.
        outer = next(
            (
                o
                for k, o in by_key.items()
                if o.status in ("error", "skipped") and key.startswith(k + ".")
            ),
            None,
        )
        if outer is not None:
            outcomes[scenario_id] = outer
    return outcomes


def rootdir_shift(rootdir: str, invocation_dir: str) -> str:
    """How JUnit keys differ from the keys of scenario ids (which are relative to the directory
    pytest ran in): ``+a.b.`` when the rootdir is ``a/b`` above it (keys gain that prefix),
    ``-a.b.`` when it is ``a/b`` below (keys lose it), ``""`` when they are the same."""
    root, here = Path(os.path.realpath(rootdir)), Path(os.path.realpath(invocation_dir))
    if root == here:
        return ""
    if here.is_relative_to(root):
        return "+" + ".".join(here.relative_to(root).parts) + "."
    if root.is_relative_to(here):
        return "-" + ".".join(root.relative_to(here).parts) + "."
    return ""


def _shifted(key: str, shift: str) -> str:
    if shift.startswith("+"):
        return shift[1:] + key
    if shift.startswith("-"):
        return key.removeprefix(shift[1:])
    return key


def _combine(outcomes: list[Outcome], ranking: Sequence[Status] = WORST_FIRST) -> Outcome:
    """Several tests under one scenario id: the worst status, the summed time (and cost, when
    each has one), the first error."""
    statuses = {o.status for o in outcomes}
    worst: Status = next((s for s in ranking if s in statuses), "skipped")
    error = next((o.error for o in outcomes if o.status == worst and o.error), None)
    costs = [o.cost for o in outcomes if o.cost is not None]
    cost = sum(costs) if len(costs) == len(outcomes) else None
    properties = tuple(p for o in outcomes for p in o.properties)
    return Outcome(
        worst, sum(o.duration for o in outcomes), error, cost=cost, properties=properties
    )


def selection_paths(scenario_ids: Sequence[str], nested: bool = False) -> list[str]:
    """The files and directories the ids live in, once each, in the ids' order; unless
    ``nested``, a path inside another one listed is left out (collecting that one finds it)."""
    paths = list(dict.fromkeys(s.partition("::")[0] for s in scenario_ids))
    if nested:
        return paths
    listed = set(paths)
    return [p for p in paths if not any(a in listed for a in _parents(p))]


def _parents(path: str) -> Iterator[str]:
    while "/" in path.rstrip("/"):
        path = path.rstrip("/").rpartition("/")[0]
        yield path


def plugin_env(env: Mapping[str, str]) -> dict[str, str]:
    """The runner's environment with the agent's package importable (for ``-p``), and nothing
    else of the agent's: an installed agent is importable already (putting site-packages itself
    on PYTHONPATH would move it ahead of the standard library), and for a copy of the package
    only its parent directory (the image's ``/opt/drover-agent``, a checkout's ``agent-image``)
    is appended, after the project's own PYTHONPATH entries."""
    location = str(Path(__file__).resolve().parents[2])
    runner_env = dict(env)
    installed = {os.path.realpath(p) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if os.path.realpath(location) not in installed:
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if location not in paths:
            runner_env["PYTHONPATH"] = os.pathsep.join([*paths, location])
    return runner_env


def _uses_cacheprovider(args: Sequence[str]) -> bool:
    return not any(a.endswith("no:cacheprovider") for a in args)


class PytestAdapter:
    kind = "pytest"

    def __init__(
        self,
        args: Sequence[str] = (),
        python: str = sys.executable,
        discovered_in: str | None = None,
    ) -> None:
        self.args = list(args)
        self.python = python
        self.discovered_in = discovered_in
        """The project's directory at discovery: ids that hold it (a parameter built from
        ``__file__``) hold the workspace instead when pytest runs there."""
        self._batches = 0
        self._foreign: list[str] | None = None

    def argv(
        self,
        selection: str,
        workspace: Path | None = None,
        cache_dir: str | None = None,
        disabled: Sequence[str] = (),
    ) -> list[str]:
        cache = (
            ["-o", f"cache_dir={cache_dir}"] if cache_dir and _uses_cacheprovider(self.args) else []
        )
        return [
            self.python,
            "-m",
            "pytest",
            *PLUGIN_ARGS,
            *[a for name in disabled for a in ("-p", f"no:{name}")],
            f"{SELECT_OPTION}={selection}",
            *cache,
            *(config_args(workspace, self.args) if workspace is not None else []),
            *self.args,
        ]

    def run_batch(self, scenario_ids: Sequence[str], context: BatchContext) -> BatchRun:
        """All of the batch in one pytest session: the files the ids name are collected, and
        the plugin keeps the tests the ids name (see :mod:`drover_agent.pytest_plugin`).

        A session that dies before its JUnit report (a test crashing the interpreter, or
        calling ``os._exit``) keeps what its progress file says ran; the test it was running
        is an error, and the tests it never started run in a new session, as pytest-xdist
        replaces a crashed worker."""
        batch = BatchRun()
        ids = list(dict.fromkeys(scenario_ids))
        # A path that is gone would make pytest refuse the whole session.
        exists = {p: (context.workspace / p).exists() for p in selection_paths(ids, nested=True)}
        for scenario_id in ids:
            if not exists[scenario_id.partition("::")[0]]:
                batch.outcomes[scenario_id] = Outcome("error", 0.0, NO_SUCH_TEST)
        pending = [s for s in ids if s not in batch.outcomes]
        board = context.board
        if board is not None and pending:
            taken = board.close_if_all_taken(pending)
            if taken is not None:  # peers ran it all while this pod waited to start
                batch.handed_over = taken
                return batch
        while pending:
            try:
                session = self._session(pending, context, board)
            finally:
                if board is not None:
                    batch.handed_over = board.close()
                    board = None  # a continuation offers nothing: peers were told it closed
            batch.outcomes.update(session.outcomes)
            batch.problem = session.problem
            if session.crashed is None:
                break
            done = set(batch.outcomes) | set(batch.handed_over)
            pending = [s for s in pending if s not in done]
            if pending:
                print(
                    f"drover-agent: pytest died while running {session.crashed}; "
                    f"{len(pending)} scenarios it never started run in a new session",
                    flush=True,
                )
        return batch

    def _session(
        self, scenario_ids: list[str], context: BatchContext, board: OwnBoard | None
    ) -> _Session:
        """One pytest process over ``scenario_ids``."""
        # As pytest names them here: ids holding the project's directory at discovery hold the
        # workspace's instead (outcomes are keyed by scenario id again at the end).
        origin, here = self.discovered_in, str(context.workspace)
        as_here: dict[str, str] = {}
        if origin and origin != here:
            as_here = {s: s.replace(origin, here) for s in scenario_ids if origin in s}
        ids = [as_here.get(s, s) for s in scenario_ids]
        label = f"a{context.attempt}-{self._batches}"
        self._batches += 1
        selection = context.report_dir / f"pytest-select-{label}.json"
        unmatched_path = context.report_dir / f"pytest-unmatched-{label}.json"
        progress = context.report_dir / f"pytest-progress-{label}.jsonl"
        artifacts = context.raw_artifacts_dir / f"pytest-{label}"
        for stale in (unmatched_path, progress):
            stale.unlink(missing_ok=True)
        document: dict[str, object] = {
            "ids": ids,
            "paths": selection_paths(ids),
            "unmatched": str(unmatched_path),
            "progress": str(progress),
        }
        if board is not None:
            document["board"] = {
                "path": str(board.path),
                "total": len(board.ids),
                "positions": board.positions(scenario_ids),
            }
        selection.write_text(json.dumps(document), encoding="utf-8")
        done = run_process(
            self.argv(
                str(selection),
                context.workspace,
                str(context.report_dir / "pytest-cache"),
                self._foreign_plugins(context),
            ),
            context.workspace,
            {**plugin_env(context.env), ARTIFACTS_BASE_ENV: str(artifacts)},
            context.timeout,
        )
        session = _Session()
        recorded = _read_progress(progress)
        cases = recorded.cases
        if recorded.finished is None and recorded.running is not None:
            # Died before the session's end: what ended is known, and what it was running failed.
            cases.append(JunitCase(junit_key(recorded.running), Outcome("error", 0.0, _died(done))))
            # A timed-out batch had its time: the rest is not started again.
            session.crashed = None if done.problem else recorded.running
        session.outcomes = match_testcases(ids, cases, recorded.rootdir_shift)
        for scenario_id, files in test_artifacts(artifacts, ids).items():
            if scenario_id in session.outcomes:
                outcome = session.outcomes[scenario_id]
                session.outcomes[scenario_id] = replace(
                    outcome, artifacts=[*outcome.artifacts, *files]
                )
        unmatched = _read_unmatched(unmatched_path)
        for scenario_id in ids:
            if scenario_id not in session.outcomes and scenario_id in unmatched:
                message = no_such_test(unmatched[scenario_id])
                session.outcomes[scenario_id] = Outcome("error", 0.0, message)
        everything_unmatched = _nothing_selected(done, unmatched, ids)
        if done.problem or (done.exit_code not in (0, 1) and not everything_unmatched):
            session.problem = _problem(done)
        if as_here:
            scenario_of = {here_id: s for s, here_id in as_here.items()}
            session.outcomes = {scenario_of.get(i, i): o for i, o in session.outcomes.items()}
        return session

    def _foreign_plugins(self, context: BatchContext) -> list[str]:
        """Plugins only Drover's environment brought (see :mod:`.pytest_plugins`), found once;
        none when the project runs under another interpreter than the agent's."""
        if self._foreign is None:
            ours = os.path.realpath(self.python) == os.path.realpath(sys.executable)
            self._foreign = (
                foreign_plugins(context.workspace, self.args, context.env) if ours else []
            )
        return self._foreign


def test_artifacts(base: Path, scenario_ids: Sequence[str]) -> dict[str, list[str]]:
    """The files each scenario's tests wrote to their ``$DROVER_ARTIFACTS_DIR`` (the plugin's
    index names each test's directory; a scenario naming a file or class gets its tests')."""
    found: dict[str, list[str]] = {}
    try:
        lines = (base / ARTIFACTS_INDEX).read_text("utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        try:
            entry = json.loads(line)
            nodeid, directory = str(entry["nodeid"]), base / str(entry["dir"])
        except (ValueError, KeyError, TypeError):
            continue
        owner = next((s for s in scenario_ids if _names_test(s, nodeid)), None)
        if owner is not None and directory.is_dir():
            found.setdefault(owner, []).extend(str(p) for p in sorted(directory.iterdir()))
    return found


@dataclass
class _Session:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    problem: str | None = None
    crashed: str | None = None
    """The node id of the test the session died in, when it died in one."""


@dataclass
class _Progress:
    """What a session's progress file (see :mod:`drover_agent.pytest_plugin`) records."""

    cases: list[JunitCase] = field(default_factory=list)
    """The tests that ended (and the collectors that failed or skipped), with their outcomes,
    keyed as pytest's JUnit report keys its testcases."""
    running: str | None = None
    """The test that started last and never ended."""
    rootdir_shift: str = ""
    finished: int | None = None
    """pytest's exit status, when the session got to its end."""


def _read_progress(path: Path) -> _Progress:
    """What the session's progress file says (see :mod:`drover_agent.pytest_plugin`)."""
    progress = _Progress()
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return progress
    # The test running when the session died: read only when it did (the file has a line as
    # each test starts, 62,000 of them for a worker of packaging's tests).
    finished = _finished(lines[-1]) if lines else None
    running: dict[str, None] = {}
    for raw in lines:
        if raw.startswith(STARTED_LINE):
            if finished is None:
                running[_loaded(raw).get("started", "")] = None
            continue
        line = _loaded(raw)
        if isinstance(line.get("nodeid"), str) and line.get("status") in STATUSES:
            running.pop(line["nodeid"], None)
            status = cast(Status, line["status"])
            message = line.get("error") if isinstance(line.get("error"), str) else None
            cost = read_cost(line.get("cost"))
            outcome = Outcome(
                status,
                float(line.get("duration") or 0.0),
                message,
                cost=cost,
                properties=read_properties(line.get("properties")),
            )
            progress.cases.append(JunitCase(junit_key(line["nodeid"]), outcome))
        elif isinstance(line.get("rootdir"), str) and isinstance(line.get("invocation"), str):
            progress.rootdir_shift = rootdir_shift(line["rootdir"], line["invocation"])
    progress.finished = finished
    progress.running = next((r for r in reversed(running) if r), None)
    return progress


STARTED_LINE = b'{"started":'
"""How the plugin's line for a test that starts begins (``json.dumps`` of its one key)."""


def _finished(raw: bytes) -> int | None:
    status = _loaded(raw).get("finished")
    return status if isinstance(status, int) else None


def _loaded(raw: bytes) -> dict[str, Any]:
    try:
        line = json.loads(raw)
    except ValueError:
        return {}  # a torn last line
    return line if isinstance(line, dict) else {}


def _died(done: ProcessRun) -> str:
    """How a pytest process that wrote no report ended, for the test it was running."""
    if done.problem:
        return done.problem
    code = done.exit_code
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the test process died while running this test (killed by {name})"
    return f"the test process exited with code {code} while running this test"


def _names_test(scenario_id: str, nodeid: str) -> bool:
    if nodeid == scenario_id:
        return True
    return nodeid.startswith((f"{scenario_id}::", f"{scenario_id}[", f"{scenario_id.rstrip('/')}/"))


def _nothing_selected(done: ProcessRun, unmatched: Mapping[str, object], ids: list[str]) -> bool:
    """pytest's "no tests collected" because no id named a collected test."""
    return done.exit_code == NO_TESTS_COLLECTED and all(s in unmatched for s in ids)


def _read_unmatched(path: Path) -> dict[str, list[str]]:
    """The ids that named no collected test, each with a few cases of its function that pytest
    collected and no id named (see :func:`no_such_test`)."""
    try:
        listed = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}  # the plugin never got to select (pytest stopped before, or crashed)
    if not isinstance(listed, dict):
        return {}
    return {
        s: [c for c in cases if isinstance(c, str)] if isinstance(cases, list) else []
        for s, cases in listed.items()
    }


def no_such_test(instead: Sequence[str]) -> str:
    """The error of an id that named no collected test; ``instead``: cases of its function
    that pytest collected and the batch did not name, as when a case's id changes between
    collections."""
    if not instead:
        return NO_SUCH_TEST
    return (
        f"{NO_SUCH_TEST}; it collected {', '.join(instead)} of the same function, which this "
        "batch does not name. If these are the same cases under new ids (parameters built from "
        "the time, a random value or an object's address), give them fixed ids (pytest's ids= "
        "or pytest.param(..., id=...)) and discover again"
    )


def _problem(done: ProcessRun) -> str:
    if done.problem:
        return done.problem
    return f"pytest exited with code {done.exit_code}:\n{done.output_tail}"
