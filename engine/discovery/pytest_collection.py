"""pytest discovery: the project's own ``pytest --collect-only``, plus a plugin for markers."""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.discovery.process import CollectorOutput, run_collector, tail
from engine.errors import DiscoveryError
from engine.process_cpus import process_cpus

if TYPE_CHECKING:
    from engine.spec import Scenario

__all__ = [
    "BUILTIN_MARKERS",
    "MERGED_CASES_NOTE",
    "discover_pytest",
    "merge_collected_items",
    "parse_collected_items",
    "pytest_collect_argv",
]

PLUGIN_DIR = Path(__file__).with_name("pytest_plugin")
PLUGIN_MODULE = "drover_collect"
OUTPUT_VARIABLE = "DROVER_COLLECT_OUTPUT"
CONTEXT_SUFFIX = ".context.json"  # drover_collect's
SLICE_VARIABLE = "DROVER_COLLECT_SLICE"
CLAIMS_VARIABLE = "DROVER_COLLECT_CLAIMS"
DEFAULT_JOBS_LIMIT = 8
"""Every process pays pytest's start-up and the conftest files: past a few, more cost more
than they share."""

# Markers pytest itself defines: they steer how a test runs, they do not describe it.
BUILTIN_MARKERS = frozenset(
    {
        "parametrize",
        "usefixtures",
        "skip",
        "skipif",
        "xfail",
        "filterwarnings",
        "tryfirst",
        "trylast",
    }
)

# pytest's exit codes: 0 collected, 5 nothing collected; anything else is a failure.
NO_TESTS_COLLECTED = 5

SCENARIO_ID_LIMIT = 4000
"""The longest scenario id results can carry: the service refuses longer ones (``ResultIn.id``
in ``api/runs/results.py``), so such a scenario would never get a result."""

MERGED_CASES_NOTE = f"(all cases: a case's id exceeds {SCENARIO_ID_LIMIT} characters)"
"""Ends the name of a scenario that stands for every case of a parametrized function."""


def pytest_collect_argv(python: str = sys.executable, disabled: Sequence[str] = ()) -> list[str]:
    return [
        python,
        "-m",
        "pytest",
        "--collect-only",
        # The items come from the plugin's file: printed one per line they only cost time
        # (packaging's 62,000: 0.25 s). -qq prints a count per file, and errors as -q does.
        "-qq",
        # Collecting runs no assert: rewriting every test module's asserts (pytest parses and
        # recompiles each one, half of babel's collection) would be paid for nothing.
        "--assert=plain",
        "-p",
        PLUGIN_MODULE,
        "-p",
        "no:cacheprovider",
        *[a for name in disabled for a in ("-p", f"no:{name}")],
    ]


def _drover_only_plugins(project: Path, python: str, env: dict[str, str]) -> list[str]:
    """The plugins the agent's workers turn off (only Drover's installation brought them), so
    discovery collects under the same plugins as the workers run."""
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        return []
    # The agent's own rule, loaded by name: the agent package is checked on its own.
    plugins = importlib.import_module("drover_agent.runners.pytest_plugins")
    return list(plugins.foreign_plugins(project, [], env))


def discover_pytest(
    project: Path, python: str = sys.executable, jobs: int | None = None
) -> list[Scenario]:
    """The project's tests as pytest collects them, by ``jobs`` processes side by side (default:
    one per core, at most :data:`DEFAULT_JOBS_LIMIT`), each importing its share of the test
    files (see ``drover_collect``); collected again by one process when theirs walked
    different trees."""
    jobs = max(1, jobs if jobs is not None else min(int(process_cpus()), DEFAULT_JOBS_LIMIT))
    with tempfile.TemporaryDirectory(prefix="drover-collect-") as scratch:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PLUGIN_DIR), env.get("PYTHONPATH")) if p
        )
        argv = pytest_collect_argv(python, _drover_only_plugins(project, python, env))
        outputs = [Path(scratch) / f"items-{index}.json" for index in range(jobs)]
        claims = Path(scratch) / "claims"
        claims.mkdir()

        def collect(index: int) -> CollectorOutput:
            own = {**env, OUTPUT_VARIABLE: str(outputs[index])}
            if jobs > 1:
                own[SLICE_VARIABLE] = f"{index}/{jobs}"
                own[CLAIMS_VARIABLE] = str(claims)
            return run_collector(argv, project, own)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            collecting = pool.map(collect, range(jobs))
            importlib.import_module("engine.spec")  # the scenarios' models, while pytest collects
            done = list(collecting)
        for process, output in zip(done, outputs, strict=True):
            collected = process.returncode == 0 and output.exists()
            if not collected and process.returncode != NO_TESTS_COLLECTED:
                raise DiscoveryError(
                    f"pytest could not collect the tests in {project} "
                    f"(exit code {process.returncode}):\n"
                    + tail(process.stdout + "\n" + process.stderr)
                )
        parts = [
            json.loads(output.read_text(encoding="utf-8")) if output.exists() else []
            for output in outputs
        ]
        contexts = [
            json.loads(context.read_text(encoding="utf-8"))
            for context in (Path(str(output) + CONTEXT_SUFFIX) for output in outputs)
            if context.exists()
        ]
        for context in contexts:
            _check_within(project, context)
        if len({context.get("walk") for context in contexts}) > 1:
            # The tree changed while the processes walked it (the project's own conftest or
            # tests wrote files), so they dealt the files differently: some may have been
            # collected by none of them. One process sees one tree.
            return discover_pytest(project, python, jobs=1)
    items = merge_collected_items(parts)
    _check_items_within(project, items)
    return parse_collected_items(items)


def _check_within(project: Path, context: dict[str, Any]) -> None:
    """Refuse a collection that loaded a conftest file from above ``project``: a worker gets
    the project's directory only, and its tests would run without that conftest's fixtures and
    hooks. (A configuration file above it is pytest's rootdir marker as often as it is a
    setting, so it is left to the user.)"""
    root = Path(os.path.realpath(project))
    for path in context.get("conftests") or []:
        if not Path(os.path.realpath(path)).is_relative_to(root):
            raise DiscoveryError(
                f"pytest loaded {path}, outside {project}; Drover's workers get {project} only, "
                "so its tests would run without that conftest. Discover the directory that "
                f"holds it instead (pytest's rootdir: {context.get('rootdir')})"
            )


def _check_items_within(project: Path, items: Sequence[dict[str, Any]]) -> None:
    """Refuse tests that live outside ``project`` (``--pyargs``, or a path in ``addopts``):
    a worker runs the tests of the project's files."""
    for item in items:
        if item.get("outside"):
            raise DiscoveryError(
                f"test {item['nodeid']!r} is outside {project} (pytest's --pyargs, or a path "
                "outside the project in addopts?); Drover runs the tests in the project's files: "
                "point discovery at the directory that holds them"
            )


def merge_collected_items(parts: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One list from the collecting processes' lists, in the order pytest walks the files.

    A file belongs to one process; a node id more than one collected (a test in an
    ``__init__.py``, or a file named on the command line) is kept once.
    """
    ordered = sorted(
        (item.get("place", []), part, position, item)
        for part, items in enumerate(parts)
        for position, item in enumerate(items)
    )
    merged: dict[str, dict[str, Any]] = {}
    for *_, item in ordered:
        merged.setdefault(item["nodeid"], item)
    return list(merged.values())


def parse_collected_items(items: Sequence[dict[str, Any]]) -> list[Scenario]:
    """Scenarios from the plugin's items (node id, test name, marker names).

    pytest spells a parametrized test's arguments into its node id, so a long string argument
    makes an id longer than results can carry (:data:`SCENARIO_ID_LIMIT`). Every case of such
    a function becomes one scenario named by the function's id, which pytest runs as all its
    cases and whose outcome the agent combines from theirs: no case is lost or run twice.
    """
    from engine.spec import Scenario  # pydantic: loaded once scenarios are made

    merged = {_function_id(i["nodeid"]) for i in items if len(i["nodeid"]) > SCENARIO_ID_LIMIT}
    scenarios: dict[str, Scenario] = {}
    for item in items:
        tags = [m for m in item["markers"] if m not in BUILTIN_MARKERS]
        function_id = _function_id(item["nodeid"])
        if function_id not in merged:
            scenarios[item["nodeid"]] = Scenario(id=item["nodeid"], name=item["name"], tags=tags)
            continue
        if len(function_id) > SCENARIO_ID_LIMIT:
            raise DiscoveryError(
                f"{function_id[:200]}...: test id longer than {SCENARIO_ID_LIMIT} characters "
                "even without its parameters; shorten its path or names"
            )
        known = scenarios.get(function_id)
        scenarios[function_id] = Scenario(
            id=function_id,
            name=f"{item['name'].partition('[')[0]} {MERGED_CASES_NOTE}",
            tags=list(dict.fromkeys([*(known.tags if known else []), *tags])),
        )
    return list(scenarios.values())


def _function_id(nodeid: str) -> str:
    """``file.py::Class::test[params]`` → ``file.py::Class::test`` (parameters are last)."""
    return nodeid.partition("[")[0]
