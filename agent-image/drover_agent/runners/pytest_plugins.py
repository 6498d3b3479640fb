"""Which of the installed pytest plugins are Drover's own business, not the project's.

The agent runs a project's pytest with the interpreter that runs the agent. When that is
Drover's own environment (``drover run`` on a laptop), pytest would autoload every plugin that
environment holds, among them the ones that only came with Drover: its runtime needs (anyio's,
platformdirs') and its development extra (schemathesis, hypothesis, pytest-timeout). They cost
start-up time in every worker (schemathesis alone ~2.5 s) and change how the project's tests
run (options, markers, timeouts), so the run would depend on Drover's environment.

:func:`foreign_plugins` names the ``pytest11`` entry points of distributions that Drover's
requirements (any extra, transitively) pull in and that the project does not mention: not in
its dependency files (``pyproject.toml``, ``*requirements*.txt``, ``setup.cfg``, ``tox.ini``,
``conftest.py`` at the top or one folder down, ...), not required by a distribution named
there (a project on httpx gets anyio's plugin), not the prefix of an option there
(``--hypothesis-show-statistics``), not asked for with ``-p`` in its arguments or
``PYTEST_ADDOPTS``. The agent turns each off with ``-p no:<name>``. Plugins the user installed
for the project itself are left alone, and so is everything when autoloading is off or Drover
is not installed (the agent image).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

__all__ = [
    "drover_distributions",
    "foreign_plugins",
    "installed_requirements",
    "project_text",
    "requirement_closure",
]

OWNER = "drover"
# Where a Python project names what it needs (read up to READ_LIMIT characters each).
DEPENDENCY_FILES = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "tox.ini",
    "noxfile.py",
    "Pipfile",
    "environment.yml",
    "conftest.py",
    "pytest.ini",
)
DEPENDENCY_GLOBS = (
    "*requirements*.txt",  # requirements-dev.txt, test-requirements.txt, dev_requirements.txt
    "*requirements*.in",
    "requirements/*.txt",
    "requirements/*.in",
    "*/*requirements*.txt",
    "*/conftest.py",  # tests/conftest.py, the first conftest when the tests live there
)
READ_LIMIT = 1_000_000
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def drover_distributions(
    owner: str = OWNER, installed: Mapping[str, list[str]] | None = None
) -> frozenset[str]:
    """Every distribution ``owner``'s requirements reach (all of its extras; the others'
    extras not), normalized; empty when ``owner`` is not installed."""
    installed = installed_requirements() if installed is None else installed
    first = installed.get(normalize(owner))
    if first is None:
        return frozenset()
    return requirement_closure((m.group(1) for m in map(_NAME.match, first) if m), installed)


def installed_requirements() -> dict[str, list[str]]:
    """Each installed distribution's requirements by normalized name (the first of a name on
    ``sys.path``, as importlib finds one), in one pass over them: read from the metadata's
    headers only, where parsing whole files, READMEs included, cost a worker ~30 ms."""
    found: dict[str, list[str]] = {}
    for dist in metadata.distributions():
        text = dist.read_text("METADATA")
        if text is None:  # an egg-info: PKG-INFO, and requirements in requires.txt
            name, requires = dist.metadata["Name"], dist.requires or []
        else:
            headers = HeaderParser().parsestr(text.partition("\n\n")[0])
            name, requires = headers.get("Name"), headers.get_all("Requires-Dist") or []
        if name:
            found.setdefault(normalize(str(name)), [str(r) for r in requires])
    return found


def requirement_closure(
    names: Iterable[str], installed: Mapping[str, list[str]]
) -> frozenset[str]:
    """``names`` and every installed distribution their requirements reach (without extras),
    normalized."""
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = normalize(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in installed.get(name, ()):  # absent: for another platform or Python
            match = _NAME.match(line)
            if match and "extra==" not in line.partition(";")[2].replace(" ", ""):
                pending.append(match.group(1))
    return frozenset(seen)


def project_text(workspace: Path) -> str:
    """The project's dependency and configuration files, lower-cased, one string."""
    paths = [workspace / name for name in DEPENDENCY_FILES]
    for pattern in DEPENDENCY_GLOBS:
        paths += sorted(workspace.glob(pattern))
    parts = []
    for path in paths:
        try:
            if path.is_file():
                parts.append(path.read_text("utf-8", errors="replace")[:READ_LIMIT])
        except OSError:
            continue
    return "\n".join(parts).lower()


def _mentions(text: str, name: str) -> bool:
    """``name`` as a word, or as the prefix of a command-line option (``--hypothesis-seed``)."""
    spelled = r"[-_.]".join(re.escape(part) for part in normalize(name).split("-"))
    return re.search(rf"(?<![\w.-]){spelled}(?![\w-])|--{spelled}-", text) is not None


def _asked(args: Sequence[str], name: str) -> bool:
    """``-p name`` (or ``-pname``) among pytest's arguments."""
    for index, arg in enumerate(args):
        if arg == "-p" and index + 1 < len(args) and args[index + 1] == name:
            return True
        if arg == f"-p{name}":
            return True
    return False


def foreign_plugins(
    workspace: Path, args: Sequence[str], env: Mapping[str, str], owner: str = OWNER
) -> list[str]:
    """Entry point names to turn off with ``-p no:<name>`` (see the module docstring)."""
    if env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return []
    installed = installed_requirements()
    ours = drover_distributions(owner, installed)
    if not ours:
        return []
    try:
        addopts = shlex.split(env.get("PYTEST_ADDOPTS", ""))
    except ValueError:
        addopts = []
    asked = [*args, *addopts]
    text = project_text(workspace)
    # What the project names brings its own requirements (httpx brings anyio and its plugin).
    theirs = requirement_closure((d for d in ours if _mentions(text, d)), installed)
    names = []
    for entry in metadata.entry_points(group="pytest11"):
        dist = normalize(entry.dist.name) if entry.dist is not None else ""
        if dist not in ours or dist in theirs or dist in ("pytest", normalize(owner)):
            continue
        if _mentions(text, entry.name) or _asked(asked, entry.name):
            continue
        names.append(entry.name)
    return sorted(set(names))
