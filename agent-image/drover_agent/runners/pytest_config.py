"""Which configuration file pytest uses for a project, so every batch runs under the same one.

pytest looks for its configuration from the common ancestor of its arguments upwards. Discovery
starts pytest in the project directory without arguments, so it finds the project's own file
(say ``pyproject.toml``). A batch names test files instead, and a batch whose files all lie
under a directory with its own configuration (``tests/pytest.ini``, a sub-project's
``pyproject.toml``) would get that file, its rootdir, its options and a conftest cut-off there:
missing fixtures, other node ids. :func:`config_args` pins the file the argument-less run uses,
found the way pytest's ``locate_config`` finds it; pytest then takes that file's directory as
its rootdir, as the argument-less run does. Without any configuration file, the rootdir of the
argument-less run (the nearest directory holding ``setup.py``, else the workspace) is pinned
instead, since pytest would otherwise derive it from the batch's files.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

__all__ = ["config_args", "project_config", "project_rootdir"]

# pytest's order of preference within one directory (pytest 9 added the two ``.toml`` names).
CONFIG_NAMES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)
# Files that hold pytest's configuration even when empty.
ALWAYS_CONFIG = frozenset({"pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini"})
INI_SECTIONS = {"tox.ini": ("pytest",), "setup.cfg": ("tool:pytest", "pytest")}
# Options by which the user already chose the configuration or the rootdir.
CHOSEN = ("-c", "--config-file", "--inifile", "--rootdir")


def project_config(directory: Path) -> Path | None:
    """The configuration file of a pytest started in ``directory`` with no arguments."""
    first_pyproject: Path | None = None
    for base in (directory, *directory.parents):
        for name in CONFIG_NAMES:
            path = base / name
            if not path.is_file():
                continue
            if name == "pyproject.toml" and first_pyproject is None:
                first_pyproject = path
            if _holds_pytest_config(path):
                return path
    # Without any configuration pytest settles on the first pyproject.toml it passed.
    return first_pyproject


def project_rootdir(directory: Path) -> Path:
    """The rootdir of a pytest started in ``directory`` with no arguments and no configuration
    file: the nearest directory upwards holding ``setup.py``, else ``directory`` itself."""
    return next(
        (d for d in (directory, *directory.parents) if (d / "setup.py").is_file()), directory
    )


def config_args(workspace: Path, args: Sequence[str]) -> list[str]:
    """``-c FILE`` for the project's configuration (or ``--rootdir DIR`` when it has none),
    unless ``args`` already choose one."""
    if any(a == option or a.startswith(option + "=") for a in args for option in CHOSEN):
        return []
    if any(a.startswith("-c") and len(a) > 2 for a in args):  # -cFILE
        return []
    directory = workspace.resolve()
    config = project_config(directory)
    if config is None:
        return [f"--rootdir={project_rootdir(directory)}"]
    return ["-c", str(config)]


def _holds_pytest_config(path: Path) -> bool:
    if path.name in ALWAYS_CONFIG:
        return True
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if path.name == "pyproject.toml":
        try:
            tool = tomllib.loads(text).get("tool", {})
        except tomllib.TOMLDecodeError:
            return True  # pytest stops on it too, and says why
        return isinstance(tool, dict) and bool(tool.get("pytest"))
    sections = INI_SECTIONS[path.name]
    return any(
        re.search(rf"^\[{re.escape(section)}\]\s*$", text, re.MULTILINE) for section in sections
    )
