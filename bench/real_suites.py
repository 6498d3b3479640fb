"""Drover against plain pytest on real open-source suites, from ~1,000 to ~60,000 tests.

    python bench/real_suites.py [--suite NAME ...] [--workers 2] [--venv DIR] [--cache DIR] [--cpu]
    python bench/real_suites.py --sweep      # 50 more suites, for correctness

Each suite is the test suite shipped in a package's sdist on PyPI, pinned by version (see
``SUITES``): ~1,000 short tests (tomlkit), ~7,500 (babel), ~62,000 (packaging) and one suite of
slow tests (sh: real subprocesses, signals and sleeps, over a minute natively). The script

1. downloads each sdist once (``pip download --no-deps --no-binary :all: NAME==VERSION``) into
   ``~/.cache/drover-bench/sdists`` and unpacks it under ``~/.cache/drover-bench/src``;
2. creates the bench venv (``/tmp/drover-bench-venv``) with this checkout of Drover (editable,
   so the benchmark measures the tree it lives in), pytest, each suite's package (from the
   sdist, so that pip's build leaves the unpacked folder as it was) and its pinned test
   dependencies; Drover runs a project's pytest with the
   interpreter that runs ``drover``, so that venv's ``drover`` is the one benchmarked;
3. per suite, back to back: plain ``python -m pytest -q -p no:cacheprovider`` in the suite's
   folder, then ``drover discover --runner pytest SUITE --execution NAME --threads N -o
   spec.yaml`` and ``drover run spec.yaml --results results.json`` with N workers, each command
   timed as a whole (wall clock). NAME is new on every measurement, so the first run has no
   history (every duration unknown: the shards are cut by count), and the local runner's
   bytecode cache is emptied before it, so it compiles the project as a new user's first run
   does; the same spec then runs again, planned with the durations the first run recorded and
   with the bytecode it left, as a user's next run would be;
   then plain pytest once more: native's time is the mean of the two runs that bracket
   Drover's (this machine's speed drifts by half within an hour);
4. checks that Drover's results name every test pytest ran exactly once (a parametrized
   function that Drover runs as one scenario, because a case's id is too long, covers its
   cases) and have the same outcomes;
5. prints one table row per suite, and the fixed overhead: the same commands on a generated
   one-test project.

Deselection is explicit, per suite (``Suite.deselect``, ``Suite.keyword``, each with its reason)
and goes into ``PYTEST_ADDOPTS``, which the native run, Drover's discovery and Drover's worker
pods all read (pods inherit the environment of ``drover run``): the same tests run both ways.
Suites' own configuration applies as in their CI (packaging's ``-m "not property"`` leaves out
its hypothesis tests). The native run loads a small outcome recorder (``-p
drover_bench_outcomes``, below: a dict update per test report) so outcomes compare by node id.

Drover keeps its state in ``~/.cache/drover-bench/home`` (``DROVER_HOME``); a first run there
also creates the embedded Postgres. The overhead line runs the one-test project twice and
reports the second run; the first starts the local service when none serves the bench's
environment yet (``drover run`` hands executions to it), and is reported too. A Drover
run that takes longer than ``max(10 x native, native + 120 s)`` counts as hung: it is
interrupted, and ``drover get`` plus the tails of its logs are saved and summarised (a native
run, after ``NATIVE_LIMIT`` seconds: the suite is then left out). The load
average is printed with every row; a suite whose native run takes under ``SMALL`` seconds is
measured a second time when the load was above the number of cores during its first
measurement.
Everything a run leaves (specs, results, logs, diagnostics) stays under
``~/.cache/drover-bench/runs/<suite>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cpu_use import CpuUse  # the sibling module (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "drover-bench"
VENV = Path("/tmp/drover-bench-venv")
PYTEST = "pytest>=8,<9.1"  # the range Drover's own dev extra pins


@dataclass(frozen=True)
class Suite:
    name: str
    """``--suite`` name; the execution is ``bench-<name>``."""
    version: str
    kind: str
    deps: tuple[str, ...] = ()
    """The suite's test dependencies, pinned."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Set for the native run and for Drover alike, as the suite's own CI sets it."""
    deselect: Mapping[str, str] = field(default_factory=dict)
    """Node id -> why it cannot run here (network) or is flaky natively."""
    keyword: str | None = None
    """A ``-k`` expression for what ``deselect`` cannot name one by one, with the reason."""


# Counts from ``pytest --collect-only -q`` in the unpacked sdist on Python 3.11; native times
# on this project's 2-core machine at a load average of about 4 (other work running).
SUITES = (
    # 1,203 tests (6 cases of test_parse_rejects_deeply_nested_documents have ids longer than
    # 4,000 characters: Drover runs them as one scenario); ~2.5 s natively.
    Suite("tomlkit", "0.15.2", "~1,000 short"),
    # 7,482 tests (ids with escaped newlines, freezegun, pytz); ~15 s natively.
    Suite(
        "babel",
        "2.18.0",
        "~8,000 short",
        deps=("freezegun==1.5.5", "pytz==2026.6", "jinja2==3.1.6", "setuptools"),
    ),
    # 62,850 collected, 427 property tests left out by its own ``-m "not property"``: 62,423
    # run; ~70 s natively. Collecting its property modules imports hypothesis even so.
    Suite(
        "packaging",
        "26.3",
        "~60,000 short",
        deps=("pretend==1.0.9", "tomli_w==1.2.0", "hypothesis==6.170.17"),
    ),
    # 190 tests, most spawning real processes; a few wait on signals and timeouts of 2-12 s;
    # ~75 s natively. SH_TESTS_RUNNING is what its tox.ini sets.
    Suite(
        "sh",
        "2.4.0",
        "slow (processes, signals, sleeps)",
        env={"SH_TESTS_RUNNING": "1"},
        deselect={
            "tests/sh_test.py::FunctionalTests::test_uid_drops_supplementary_groups": (
                "as root it adds a user and a group to this machine (groupadd, useradd), "
                "which a benchmark must not do; Drover's sandbox keeps /etc read-only, so "
                "there it fails with 'groupadd: cannot lock /etc/group'"
            ),
        },
    ),
)

# ``--sweep``: more suites, for correctness (every id once, native's outcome) more than speed;
# chosen for their layouts: custom collectors, doctests, tests inside the package, unittest
# classes, odd ids. Pins as of 2026-12-04; their own venv (``--venv``), their pins differ.
SWEEP = (
    Suite("parso", "0.8.4", "data-file parametrize, doctests"),
    Suite("pyyaml", "6.0.2", "legacy conftest collector, items sharing one id"),
    Suite("jsonschema", "4.23.0", "generated unittest classes"),
    Suite(
        "python-dateutil",
        "2.9.0.post0",
        "tests in the package, unittest",
        deps=("freezegun==1.5.5", "hypothesis==6.170.17", "pytest-cov==6.1.1"),
    ),
    Suite("jinja2", "3.1.6", "filterwarnings = error, classes", deps=("trio==0.29.0",)),
    Suite(
        "pygments",
        "2.19.1",
        "custom collectors over example data files",
        deps=("wcag-contrast-ratio==0.9",),
    ),
    Suite(
        "attrs",
        "25.3.0",
        "hypothesis, strict configuration",
        deps=("cloudpickle==3.1.1", "hypothesis==6.170.17", "pympler==1.1"),
    ),
    Suite("networkx", "3.4.2", "tests in the package, ~5,000"),
    Suite("lark", "1.2.2", "generated TestCase classes"),
    # Its tests/test_legacy.py calls warnings.simplefilter("error") at import, so in a process
    # that imported it, pytest's collection warning for test_md_in_html.py (unittest's TestSuite
    # imported there) is an error: natively the session stops (exit 2). Drover imports the
    # files in several processes: only a discovery part or shard holding both files meets the
    # error, so how the files fall decides it (a known difference; sweep of 2026-12-07).
    Suite("markdown", "3.7", "unittest, data files"),
    Suite("pluggy", "1.6.0", "testing/ directory"),
    Suite(
        "flask",
        "3.1.0",
        "test apps, sys.path fixtures",
        deps=("asgiref==3.8.1", "python-dotenv==1.1.0"),
    ),
    Suite("pyparsing", "3.2.3", "unittest heavy", deps=("railroad-diagrams==3.0.1",)),
    Suite("itsdangerous", "2.2.0", "small", deps=("freezegun==1.5.5",)),
    Suite(
        "pytest-mock",
        "3.14.0",
        "pytester, asyncio",
        deps=("pytest-asyncio==1.1.0", "mock==5.2.0"),
    ),
    Suite("sqlparse", "0.5.3", "data files"),
    Suite("tabulate", "0.9.0", "test/ directory", deps=("wcwidth==0.2.13",)),
    Suite("humanize", "4.12.3", "freezegun", deps=("freezegun==1.5.5",)),
    # Two parametrize ids hold datetime.now(): they differ between collections, so those two
    # cases are "pytest found no such test" (inherent to selecting by id).
    Suite("marshmallow", "3.26.1", "parametrize heavy", deps=("simplejson==3.20.1",)),
    Suite("click", "8.1.8", "odd parametrize ids"),
    Suite("more-itertools", "10.7.0", "unittest TestCase"),
    Suite("toolz", "1.0.0", "tests in the package"),
    Suite("simplejson", "3.20.1", "tests in the package, unittest"),
    # Added after a second sweep (2026-12-04, 22 suites): the styles above do not cover these.
    Suite(
        "structlog",
        "25.4.0",
        "asyncio_mode=auto, strict markers, xfail_strict",
        deps=(
            "freezegun==1.5.5",
            "pretend==1.0.9",
            "pytest-asyncio==1.1.0",
            "simplejson==3.20.1",
        ),
    ),
    Suite(
        "filelock",
        "3.18.0",
        "threads, tmp_path, session loop scope, pytest-timeout",
        deps=(
            "pytest-asyncio==1.1.0",
            "pytest-mock==3.14.0",
            "pytest-timeout==2.4.0",
            "virtualenv==20.31.2",
        ),
    ),
    Suite(
        "platformdirs",
        "4.3.8",
        "mocker, monkeypatch, conftest fixtures",
        deps=("appdirs==1.4.4", "pytest-mock==3.14.0"),
    ),
    Suite(
        "arrow",
        "1.3.0",
        "class-scoped fixtures via request.cls, --cov-fail-under in addopts",
        deps=(
            "pytest-cov==6.1.1",
            "pytest-mock==3.14.0",
            "dateparser==1.2.1",
            "pytz==2025.2",
            "simplejson==3.20.1",
        ),
    ),
    Suite(
        "wcwidth",
        "0.2.13",
        "junit_family=xunit1, filterwarnings=error, --cov addopts",
        deps=("pytest-cov==6.1.1",),
    ),
    Suite(
        "tenacity", "9.1.2", "asyncio, tornado, sleeps", deps=("tornado==6.5.1", "typeguard==4.4.2")
    ),
    Suite(
        "typeguard",
        "4.4.2",
        "import hook in conftest, filterwarnings=error, xfail_strict",
        deps=("mypy==1.16.1",),
    ),
    Suite(
        "freezegun",
        "1.5.5",
        "tests/__init__.py, module-level freezing, asyncio",
        deps=("python-dateutil==2.9.0.post0",),
    ),
    Suite("h11", "0.16.0", "tests in the package"),
    Suite(
        "docutils",
        "0.21.2",
        "test/ writes into the project (functional/output), alltests",
        deps=("pygments==2.19.1",),
    ),
    Suite(
        "responses",
        "0.25.7",
        "filterwarnings=error, --asyncio-mode=auto, localhost httpserver",
        deps=(
            "pytest-asyncio==1.1.0",
            "pytest-httpserver==1.1.3",
            "tomli-w==1.2.0",
            "pytest-cov==6.1.1",
        ),
        env={"PYTEST_ADDOPTS": "--asyncio-mode=auto"},
    ),
    Suite(
        "boltons",
        "25.0.0",
        "legacy pytest_ignore_collect(path) returning False in conftest",
        env={"PYTEST_ADDOPTS": "--doctest-modules boltons tests"},
    ),
    Suite(
        "asgiref",
        "3.8.1",
        "pytest-asyncio strict, threads/contextvars",
        deps=("pytest-asyncio==1.1.0",),
    ),
    Suite(
        "testfixtures",
        "8.3.0",
        "Sybil collector over docs/*.txt (ids line:N,column:M), -p no:doctest",
        deps=("sybil==9.1.0", "pytest-django==4.11.1", "django==5.2.3"),
        env={"PYTEST_ADDOPTS": "--ignore=testfixtures/tests/test_twisted.py"},
    ),
    Suite(
        "trio",
        "0.29.0",
        "--import-mode=importlib, -p in addopts, junit_family=xunit2, faulthandler_timeout",
        deps=(
            "trustme==1.2.1",
            "pyopenssl==25.1.0",
            "async_generator==1.10",
            "jedi==0.19.2",
            "astor==0.8.1",
            "pylint==3.3.7",
        ),
    ),
    Suite(
        "werkzeug",
        "3.1.3",
        "dev-server subprocess fixtures on localhost, filterwarnings=error",
        deps=(
            "cryptography==43.0.3",
            "ephemeral-port-reserve==1.1.4",
            "pytest-timeout==2.4.0",
            "watchdog==5.0.3",
        ),
    ),
    Suite(
        "python-dotenv",
        "1.1.0",
        "CLI via subprocess (sh), env manipulation, find_dotenv walks up",
        deps=("sh==2.2.2",),
    ),
    # Added after a third sweep (2026-12-06): layouts the ones above leave out.
    Suite("soupsieve", "2.7", "~90 test files, one class each", deps=("beautifulsoup4==4.13.4",)),
    Suite(
        "beautifulsoup4",
        "4.13.4",
        "tests in the package, optional parsers",
        deps=("soupsieve==2.7",),
    ),
    Suite("mistune", "3.1.3", "parametrize over fixture text files"),
    Suite("pyflakes", "3.3.2", "unittest in the package"),
    Suite("jmespath", "1.0.1", "compliance tests generated from JSON files"),
    Suite("cachetools", "5.5.2", "unittest mixin classes"),
    Suite("pycparser", "2.22", "unittest reading C files by relative path"),
    Suite("rfc3986", "2.0.0", "parametrized fixtures in conftest"),
    Suite("webcolors", "24.11.1", "unittest, data-driven definitions"),
    Suite("idna", "3.10", "unittest over large tables"),
)
SWEEP_VENV = Path("/tmp/drover-sweep-venv")

RECORDER = '''\
"""Records each test's outcome by node id, as Drover's agent reads pytest's JUnit report."""

import json
import os

_outcomes = {}
_items = []


def pytest_collection_finish(session):
    _items.extend(item.nodeid for item in session.items)


def pytest_runtest_logreport(report):
    now = _outcomes.get(report.nodeid)
    if report.when == "setup":
        if report.failed:
            _outcomes[report.nodeid] = "error"
        elif report.skipped:
            _outcomes[report.nodeid] = "skipped"
    elif report.when == "call":
        status = "failed" if report.failed else "skipped" if report.skipped else "passed"
        _outcomes[report.nodeid] = status
    elif report.failed and now != "failed":
        _outcomes[report.nodeid] = "error"


def pytest_sessionfinish(session):
    with open(os.environ["DROVER_BENCH_OUTCOMES"], "w", encoding="utf-8") as out:
        json.dump({"items": _items, "outcomes": _outcomes}, out)
'''

HANG_FACTOR = 10.0
NATIVE_LIMIT = 900.0
"""Seconds after which a native run counts as hung (trio's once stalled for good under load):
it is interrupted, and the suite is left out of the table with the tail of its log."""
SMALL = 30.0
"""Native seconds under which a suite is measured again when the load was high."""
HANG_GRACE = 120.0
RUN_LINE = re.compile(r"\brun [0-9a-f]+ \(([a-z0-9][a-z0-9-]*)\)")
WORST_FIRST = ("error", "failed", "passed")
PYTEST_TIME = re.compile(r"^=+ .* in ([0-9.]+)s(?: \([0-9:]+\))? =+$", re.MULTILINE)


# --------------------------------------------------------------------------- preparation


def check_call(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), text=True, check=True, **kwargs)


def fetch_suite(suite: Suite, cache: Path, python: str) -> Path:
    """The unpacked sdist of ``suite``, downloaded and unpacked on first use."""
    sdists = _sdists(suite, cache)
    archives = sorted(sdists.glob("*.tar.gz"))
    if not archives:
        print(f"  downloading {suite.name}=={suite.version} (sdist)", flush=True)
        check_call(
            [
                python,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{suite.name}=={suite.version}",
                "-d",
                str(sdists),
            ]
        )
        archives = sorted(sdists.glob("*.tar.gz"))
    if len(archives) != 1:
        raise SystemExit(f"expected one sdist in {sdists}, found {archives}")
    target = cache / "src" / archives[0].name.removesuffix(".tar.gz")
    if (target / "build").is_dir() and not _holds(archives[0], f"{target.name}/build"):
        # Left by an earlier version of this script, which installed the suites from these
        # folders (pip builds in the tree): pytest collected its copies of the tests.
        shutil.rmtree(target / "build")
    if not target.is_dir():
        with tarfile.open(archives[0]) as archive:
            tops = {Path(m.name).parts[0] for m in archive.getmembers()}
            if tops != {target.name}:
                raise SystemExit(f"{archives[0]}: expected one top folder {target.name}: {tops}")
            archive.extractall(target.parent, filter="data")
    return target


def _sdists(suite: Suite, cache: Path) -> Path:
    return cache / "sdists" / f"{suite.name}-{suite.version}"


def sdist_archive(suite: Suite, cache: Path) -> Path:
    """The sdist ``fetch_suite`` downloaded: the venv installs the suite's package from it, so
    that pip builds in a folder of its own and never in the one the suite runs in."""
    (archive,) = sorted(_sdists(suite, cache).glob("*.tar.gz"))
    return archive


def _holds(archive: Path, name: str) -> bool:
    with tarfile.open(archive) as tar:
        return any(m.name == name or m.name.startswith(name + "/") for m in tar.getmembers())


def prepare_venv(venv: Path, suites: Sequence[tuple[Suite, Path]]) -> Path:
    """The bench venv's interpreter, with Drover, pytest and each suite (from its sdist, the
    path given) installed once."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"  creating {venv}", flush=True)
        check_call([sys.executable, "-m", "venv", str(venv)])
    marker = venv / "drover-bench-installed.json"
    done = set(json.loads(marker.read_text())) if marker.exists() else set()
    wanted = [f"-e {ROOT}", PYTEST]
    for suite, sdist in suites:
        wanted += [str(sdist), *suite.deps]
    missing = [w for w in wanted if w not in done]
    if missing:
        print(f"  installing into {venv}: {' '.join(missing)}", flush=True)
        argv = [a for w in missing for a in (w.split(" ", 1) if w.startswith("-e ") else [w])]
        check_call([str(python), "-m", "pip", "install", "-q", *argv])
        marker.write_text(json.dumps(sorted(done | set(missing))))
    # As .ci/setup does: Drover's modules byte-compiled, as a wheel's are once installed.
    sources = ["engine", "api", "agent-image/drover_agent", "migrations"]
    check_call([str(python), "-m", "compileall", "-q", *(str(ROOT / s) for s in sources)])
    return python


def suite_env(suite: Suite, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "VIRTUAL_ENV")}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)  # the suites' own plugins load, as in CI
    env.update(suite.env)
    addopts = [a for node in suite.deselect for a in ("--deselect", node)]
    if suite.keyword:
        addopts += ["-k", suite.keyword]
    if addopts:
        env["PYTEST_ADDOPTS"] = shlex.join(addopts)
    env["DROVER_HOME"] = str(home)
    return env


# --------------------------------------------------------------------------- measuring


@dataclass
class Timed:
    seconds: float
    code: int | None
    """None: stopped as hung."""
    log: Path


def timed(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path, limit: float | None = None
) -> Timed:
    """Run ``argv`` to the end (its output to ``log``); past ``limit`` s, Ctrl-C it as a user
    would (Drover stops the run), then kill it."""
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code: int | None = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            code = None
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return Timed(time.perf_counter() - started, code, log)


class WorkflowWatch:
    """When ``drover run``'s workflow appeared in the local runner's store and when it was
    first seen final, seconds from the watch's start (Argo's timestamps are whole seconds):
    what the CLI spends before the workflow exists and after it ends."""

    POLL = 0.02

    def __init__(self, home: Path) -> None:
        self.store = home / "local" / "workflows"
        self.before = set(os.listdir(self.store)) if self.store.is_dir() else set()
        self.appeared: float | None = None
        self.finished: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._start = time.perf_counter()
        self._thread.start()

    def _poll(self) -> None:
        name = None
        while not self._stop.wait(self.POLL):
            now = time.perf_counter() - self._start
            if name is None:
                new = set(os.listdir(self.store)) - self.before if self.store.is_dir() else set()
                if new:
                    name, self.appeared = sorted(new)[0], now
                continue
            try:
                document = json.loads((self.store / name / "workflow.json").read_text())
            except (OSError, ValueError):
                continue
            if document.get("status", {}).get("phase") in ("Succeeded", "Failed", "Error"):
                self.finished = now
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Row:
    suite: str
    version: str
    kind: str
    load: float
    tests: int = 0
    native: Timed | None = None
    native_after: Timed | None = None
    """Plain pytest once more after Drover's runs: this machine's speed drifts within minutes,
    so native's time is the mean of the two that bracket them."""
    discover: Timed | None = None
    runs: list[Timed] = field(default_factory=list)
    """The first run (no history: every duration unknown), then the same spec again, planned
    with the durations the first run recorded."""
    ids_once: list[str] = field(default_factory=list)
    mismatches: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


RUNS = ("run", "again")


def measure(
    suite: Suite,
    folder: Path,
    python: Path,
    workers: int,
    cache: Path,
    home: Path,
    take: int = 1,
    cpu: bool = False,
) -> Row:
    run_dir = cache / "runs" / (suite.name if take == 1 else f"{suite.name}-{take}")
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    plugin_dir = cache / "plugin"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    (plugin_dir / "drover_bench_outcomes.py").write_text(RECORDER)
    env = suite_env(suite, home)
    row = Row(suite.name, suite.version, suite.kind, os.getloadavg()[0])
    print(f"{suite.name} {suite.version}: load {row.load:.1f}; plain pytest ...", flush=True)

    native_json = run_dir / "native.json"
    native_env = {**env, "DROVER_BENCH_OUTCOMES": str(native_json)}
    native_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(plugin_dir), env.get("PYTHONPATH")) if p
    )
    native_argv = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-p", "drover_bench_outcomes"]  # fmt: skip
    row.native = timed(native_argv, folder, native_env, run_dir / "native.log", limit=NATIVE_LIMIT)
    if not native_json.exists():
        row.notes.append(
            f"native pytest exited {row.native.code} without results: {tail(row.native.log)}"
        )
        return row
    native = json.loads(native_json.read_text())
    items: list[str] = native["items"]
    outcomes: dict[str, str] = native["outcomes"]
    row.tests = len(items)
    counts = Counter(outcomes.get(i, "missing") for i in items)
    row.notes.append(
        f"native ({suite.kind}): exit {row.native.code}, {dict(sorted(counts.items()))}"
    )

    drover = str(python.parent / "drover")
    spec = run_dir / "spec.yaml"
    # A name of its own: the history of earlier benchmarks (kept per project) plans nothing.
    name = f"bench-{suite.name}-{secrets.token_hex(3)}"
    # Nor does the bytecode earlier runs left: the first run compiles the project's modules,
    # and pytest rewrites its test modules, as a new user's first run does (babel: ~0.7 s a
    # worker); the second finds them cached, as a user's next run does.
    shutil.rmtree(home / "local" / "bytecode-cache", ignore_errors=True)
    print(f"  {row.native.seconds:.1f} s; drover discover ...", flush=True)
    row.discover = timed(
        discover_argv(drover, folder, name, workers, spec),
        run_dir,
        env,
        run_dir / "discover.log",
        limit=max(HANG_FACTOR * row.native.seconds, 600),
    )
    if row.discover.code != 0:
        row.notes.append(f"drover discover exited {row.discover.code}: {tail(row.discover.log)}")
        return row
    limit = max(HANG_FACTOR * row.native.seconds, row.native.seconds + HANG_GRACE)
    for label in RUNS:
        results, log = run_dir / f"results-{label}.json", run_dir / f"{label}.log"
        print(f"  drover run ({label}; hung after {limit:.0f} s) ...", flush=True)
        watch = WorkflowWatch(Path(env["DROVER_HOME"]))
        use = CpuUse() if cpu else None
        run = timed([drover, "run", str(spec), "--results", str(results)], run_dir, env, log,
                    limit=limit)  # fmt: skip
        watch.stop()
        if use is not None:
            spent = use.stop()
            row.notes.append(f"{label}: {CpuUse.describe(spent, use.wall, os.cpu_count() or 1)}")
        row.runs.append(run)
        print(f"  {run.seconds:.1f} s, exit {run.code}", flush=True)
        if run.code is None:
            row.notes.append(f"{label}: drover run HUNG: stopped after {run.seconds:.0f} s")
        if not results.exists():
            row.notes.append(f"{label}: drover run exited {run.code} without results: {tail(log)}")
            row.notes += diagnose(log, results, drover, env, run_dir / f"{label}-diagnostics.txt")
            return row
        outcome = json.loads(results.read_text())
        row.notes.append(
            f"{label}: drover exit {run.code}, {outcome['verdict']}, phase {outcome['phase']}"
        )
        row.notes += compare(row, label, items, outcomes, outcome["results"])
        row.notes += breakdown(label, outcome, run.seconds, drover, env, watch)
        if run.code != 0 or row.mismatches[-1] or row.ids_once[-1] != "yes":
            row.notes += diagnose(log, results, drover, env, run_dir / f"{label}-diagnostics.txt")
    print("  plain pytest again ...", flush=True)
    after_env = {**native_env, "DROVER_BENCH_OUTCOMES": str(run_dir / "native-after.json")}
    row.native_after = timed(
        native_argv, folder, after_env, run_dir / "native-after.log", limit=NATIVE_LIMIT
    )
    row.notes.append(
        f"native before and after Drover's runs: {row.native.seconds:.1f} and "
        f"{row.native_after.seconds:.1f} s (exit {row.native_after.code})"
    )
    return row


def native_seconds(row: Row) -> float | None:
    """The mean of the native runs that finished (the one after Drover's may be missing)."""
    runs = (row.native, row.native_after)
    done = [t.seconds for t in runs if t is not None and t.code is not None]
    return sum(done) / len(done) if done else None


def breakdown(
    label: str,
    outcome: Mapping[str, Any],
    run_seconds: float,
    drover: str,
    env: Mapping[str, str],
    watch: WorkflowWatch | None = None,
) -> list[str]:
    """Where ``drover run``'s time went: its workflow's steps (Argo's timestamps, whole
    seconds), each worker's scenarios and pytest session as pytest timed it, and the rest:
    before the workflow existed and after it ended, as ``watch`` saw them."""
    name = outcome.get("workflow")
    if not name:
        return []
    done = subprocess.run([drover, "get", name, "-o", "json"], env=dict(env),
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        return [f"{label}: drover get {name} failed: {done.stderr.strip()[:200]}"]
    status = json.loads(done.stdout).get("status", {})
    pods = [n for n in status.get("nodes", {}).values() if n.get("type") == "Pod"]

    def span(nodes: list[dict[str, Any]]) -> float:
        starts = [stamp(n["startedAt"]) for n in nodes if n.get("startedAt")]
        ends = [stamp(n["finishedAt"]) for n in nodes if n.get("finishedAt")]
        return max(ends) - min(starts) if starts and ends else float("nan")

    setup = [n for n in pods if n.get("displayName", "").startswith("setup-env")]
    workers = [n for n in pods if n not in setup and ".onExit" not in n.get("displayName", "")]
    sessions = []
    logs = Path(env["DROVER_HOME"]) / "local" / "workflows" / name / "logs"
    for pod in workers:
        text = (logs / f"{pod.get('id')}.log").read_text(errors="replace") if logs.is_dir() else ""
        sessions += [f"{float(t):.1f}" for t in PYTEST_TIME.findall(text)]
    shards = Counter(r.get("shard") for r in outcome["results"])
    whole = span([status]) if status.get("startedAt") else float("nan")
    return [
        f"{label}: drover run {run_seconds:.1f} s = workflow {whole:.0f} s (setup-env "
        f"{span(setup):.0f} s, workers {span(workers):.0f} s: "
        f"{' + '.join(f'{shards[k]:,}' for k in sorted(shards, key=str))} scenarios, "
        f"pytest sessions {', '.join(sessions) or '?'} s) + {run_seconds - whole:.1f} s outside "
        f"the workflow (CLI, Postgres, mirror{_ends(watch, run_seconds)})"
    ]


def _ends(watch: WorkflowWatch | None, run_seconds: float) -> str:
    if watch is None or watch.appeared is None or watch.finished is None:
        return ""
    after = max(run_seconds - watch.finished, 0.0)
    return f": {watch.appeared:.2f} s before it existed, {after:.2f} s after it ended"


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def discover_argv(drover: str, project: Path, name: str, workers: int, spec: Path) -> list[str]:
    """``drover discover`` writing a runnable execution ``name`` for ``project`` to ``spec``."""
    return [drover, "discover", "--runner", "pytest", str(project), "--execution", name,
            "--threads", str(workers), "-o", str(spec)]  # fmt: skip


def compare(
    row: Row, label: str, items: list[str], native: Mapping[str, str], results: list[Any]
) -> list[str]:
    """Each collected test covered by exactly one result, and the same outcome as natively."""
    notes = []
    collected = set(items)
    cases: dict[str, list[str]] = {}
    for item in items:
        cases.setdefault(item.partition("[")[0], []).append(item)
    covered: Counter[str] = Counter()
    unknown: list[str] = []
    mismatched: list[str] = []
    for result in results:
        scenario, status = result["id"], result["status"]
        if scenario in collected:
            names = [scenario]
        elif "[" not in scenario and scenario in cases:
            names = cases[scenario]  # every case of a function run as one scenario
            if label == RUNS[0]:
                notes.append(f"one scenario for {len(names)} cases: {scenario}")
        else:
            unknown.append(scenario)
            continue
        covered.update(names)
        statuses = {native.get(n, "missing") for n in names}
        expected = next((s for s in WORST_FIRST if s in statuses), min(statuses))
        if status != expected:
            error = (result.get("error") or "").strip().splitlines()
            mismatched.append(
                f"{scenario}: native {expected}, drover {status}"
                + (f" ({error[-1][:160]})" if error else "")
            )
    missing = [i for i in items if not covered[i]]
    twice = [i for i in items if covered[i] > 1]
    row.ids_once.append("yes" if not (missing or twice or unknown) else "no")
    row.mismatches.append(len(mismatched))
    for what, ids in (
        ("missing", missing),
        ("twice", twice),
        ("unknown", unknown),
        ("outcome differs", mismatched),
    ):
        if ids:
            notes.append(f"{label}: {len(ids)} {what}, e.g. " + "; ".join(ids[:5]))
    return notes


def diagnose(
    log: Path, results: Path, drover: str, env: Mapping[str, str], report: Path
) -> list[str]:
    """Why a run failed or hung: ``drover get``, the failed nodes, the ends of the pod logs."""
    name = None
    if results.exists():
        name = json.loads(results.read_text()).get("workflow")
    if not name:
        found = RUN_LINE.findall(log.read_text(errors="replace"))
        name = found[-1] if found else None
    if not name:
        return [f"no workflow name in {log}"]
    notes = [f"workflow {name}: details in {report}"]
    with report.open("w") as out:
        for argv in ([drover, "get", name], [drover, "get", name, "-o", "json"]):
            done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)
            out.write(f"$ {shlex.join(argv)}\n{done.stdout}{done.stderr}\n")
            if argv[-1] == "json" and done.returncode == 0:
                notes += failed_nodes(done.stdout)
        logs = Path(env["DROVER_HOME"]) / "local" / "workflows" / name / "logs"
        for path in sorted(logs.rglob("*")) if logs.is_dir() else []:
            if path.is_file():
                out.write(f"--- {path} (last 40 lines)\n{tail(path, 40)}\n")
    return notes


def failed_nodes(get_json: str) -> list[str]:
    nodes = json.loads(get_json).get("status", {}).get("nodes", {})
    return [
        f"node {n.get('displayName')} ({n.get('type')}): {n.get('phase')} - {n.get('message')}"
        for n in nodes.values()
        if n.get("phase") not in ("Succeeded", "Skipped", "Omitted") and n.get("type") == "Pod"
    ][:5]


def tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return "\n".join(text[-lines:])


def overhead(python: Path, workers: int, cache: Path, home: Path) -> list[str]:
    """``drover discover`` + ``drover run`` vs plain pytest on a one-test project."""
    project = cache / "one-test"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_one.py").write_text("def test_one():\n    assert True\n")
    run_dir = cache / "runs" / "one-test"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    env = suite_env(Suite("one-test", "-", "-"), home)
    new_home = not (home / "postgres").exists()
    plain = timed(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        project,
        env,
        run_dir / "native.log",
    )
    drover = str(python.parent / "drover")
    spec = run_dir / "spec.yaml"
    runs = []
    # The first run may start the local service (engine.cli.local_service), which the next
    # ones use; in a new DROVER_HOME it also creates the Postgres cluster.
    for attempt in range(2):
        discover = timed(
            discover_argv(drover, project, "bench-one-test", workers, spec),
            run_dir,
            env,
            run_dir / "discover.log",
        )
        run = timed(
            [drover, "run", str(spec), "--results", str(run_dir / "results.json")],
            run_dir,
            env,
            run_dir / f"run-{attempt}.log",
            limit=300,
        )
        runs.append((discover, run))
    discover, run = runs[-1]
    over_run = run.seconds - plain.seconds
    over_both = discover.seconds + run.seconds - plain.seconds
    lines = [
        f"fixed overhead, one-test project: plain pytest {plain.seconds:.2f} s (exit "
        f"{plain.code}); drover discover {discover.seconds:.2f} s + drover run "
        f"{run.seconds:.2f} s (exit {run.code}) = {discover.seconds + run.seconds:.2f} s",
        f"  over plain pytest: drover run {over_run:.2f} s, discover + run {over_both:.2f} s "
        f"(target < 1.5 s: {'met' if over_run < 1.5 else 'NOT met'} for drover run, "
        f"{'met' if over_both < 1.5 else 'NOT met'} with discover)",
    ]
    created = " and creates the Postgres cluster" if new_home else ""
    lines.append(
        f"  the first of two runs (it starts the local service when none serves this environment"
        f"{created}): drover run {runs[0][1].seconds:.2f} s"
    )
    return lines


# --------------------------------------------------------------------------- report

COLUMNS = ("suite", "version", "tests", "native s", "discover s", "run s", "drover s",
           "speed-up", "again s", "speed-up", "ids once", "mismatches", "load")  # fmt: skip


def cells(row: Row) -> list[str]:
    """``drover s`` is discover + the first run; ``again s`` the second run, ``speed-up`` after
    it native / (discover + again)."""

    def seconds(t: Timed | None) -> str:
        if t is None:
            return "-"
        return f"{t.seconds:.1f}" + ("" if t.code is not None else " HUNG")

    native = native_seconds(row)

    def speed_up(run: Timed | None) -> str:
        if native is None or row.discover is None or run is None or run.code is None:
            return "-"
        return f"{native / (row.discover.seconds + run.seconds):.2f}x"

    first, again = [*row.runs, None, None][:2]
    total = row.discover.seconds + first.seconds if row.discover and first else None
    return [
        row.suite,
        row.version,
        f"{row.tests:,}",
        f"{native:.1f}" if native is not None else seconds(row.native),
        seconds(row.discover),
        seconds(first),
        f"{total:.1f}" if total else "-",
        speed_up(first),
        seconds(again),
        speed_up(again),
        "/".join(row.ids_once) or "-",
        "/".join(map(str, row.mismatches)) or "-",
        f"{row.load:.1f}",
    ]


def print_table(rows: Sequence[Row]) -> None:
    table = [list(COLUMNS), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    for index, line in enumerate(table):
        print(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if index == 0:
            print("  ".join("-" * w for w in widths))


def git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--suite",
        action="append",
        choices=[s.name for s in (*SUITES, *SWEEP)],
        help="Run only this suite (repeatable); default: all.",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help=f"The correctness sweep: {len(SWEEP)} more suites (venv {SWEEP_VENV}).",
    )
    parser.add_argument("--workers", type=int, default=2, help="drover --threads (default 2)")
    parser.add_argument("--venv", type=Path, default=None, help=f"default {VENV}")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="Also say where each drover run's CPU went, machine-wide (bench/cpu_use.py; the "
        "sampling costs about 5%% of a core).",
    )
    parser.add_argument(
        "--no-rerun",
        action="store_true",
        help="Never measure a small suite a second time under high load.",
    )
    args = parser.parse_args()
    chosen = SWEEP if args.sweep else SUITES
    suites = [s for s in (*SUITES, *SWEEP) if s.name in args.suite] if args.suite else chosen
    if args.venv is None:
        args.venv = SWEEP_VENV if any(s in SWEEP for s in suites) else VENV
    cache, home = args.cache.resolve(), args.cache.resolve() / "home"
    cores = os.cpu_count() or 1
    started = time.perf_counter()
    print(f"drover {git_state()}; {cores} cores; load {fmt_load()}", flush=True)

    python = args.venv / "bin" / "python"
    if not python.exists():
        prepare_venv(args.venv, [])
    folders = [(s, fetch_suite(s, cache, str(python))) for s in suites]
    python = prepare_venv(args.venv, [(s, sdist_archive(s, cache)) for s, _ in folders])

    lines = overhead(python, args.workers, cache, home)
    rows = []
    for suite, folder in folders:
        rows.append(measure(suite, folder, python, args.workers, cache, home, cpu=args.cpu))
        if (
            not args.no_rerun
            and rows[-1].native is not None
            and rows[-1].native.seconds < SMALL
            and max(rows[-1].load, os.getloadavg()[0]) > cores
        ):
            print(f"  load was above {cores}: measuring {suite.name} again", flush=True)
            rows.append(
                measure(suite, folder, python, args.workers, cache, home, take=2, cpu=args.cpu)
            )
            rows[-1].suite += " (2nd)"

    print()
    print(
        f"drover {git_state()}; {cores} cores; {args.workers} workers; "
        f"python {sys.version.split()[0]} in {args.venv}; load at the end {fmt_load()}"
    )
    print_table(rows)
    print(
        "drover s = discover s + run s, the first run of a new execution (no history: durations "
        "unknown, shards cut by count); again s = the same spec run again, planned with the "
        "first run's durations; native s = the mean of plain pytest before and after them; "
        "speed-up = native s / (discover s + run s), then / (discover s + again s); ids once "
        "and mismatches: first run/again; load = 1-minute load average when the row's "
        "measurement started"
    )
    for line in lines:
        print(line)
    for row in rows:
        for note in row.notes:
            print(f"{row.suite}: {note}")
    print(f"whole benchmark {time.perf_counter() - started:.0f} s")


def fmt_load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
