"""Every command's ``--help``, as a user sees it: conventional placeholders, no types after
flags, a description for every option, the runtime's choices and one wording of the home."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from engine.cli import app
from engine.cli.options import HOME_DEFAULT

ROOT = Path(__file__).resolve().parents[2]


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _help(path: tuple[str, ...]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", *path, "--help"],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "drover")
def test_help_reads_as_a_user_expects(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "{" not in text and "}" not in text, text  # no literal {spec} placeholders
    assert "<bool>" not in text, text
    assert "``" not in text, text  # reST markup of docstrings
    command = dict(COMMANDS)[path]
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    for param in command.params:
        if param.param_type_name == "argument":
            shown = param.name.upper()
            assert (shown if param.required else f"[{shown}]") in usage, usage
        else:
            assert (param.help or "").strip(), f"{' '.join(path)} {param.opts[0]} has no help"
    if any(p.name == "home" for p in command.params):
        assert HOME_DEFAULT in " ".join(text.split()), text


def test_run_help_lists_the_runtimes() -> None:
    assert "<sandbox|process>" in _help(("run",))
