"""What several commands share: option types with their help written once, and the command
class that renders every command's help the conventional way."""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup
from typer.models import CommandFunctionType

from engine.cli.console import abort
from engine.errors import DroverError, SpecError

__all__ = [
    "HOME_DEFAULT",
    "DroverCommand",
    "DroverGroup",
    "DroverTyper",
    "HomeOption",
    "Runtime",
    "RuntimeOption",
    "check_runtime",
]

HOME_DEFAULT = "$DROVER_HOME, else /var/lib/drover as root, ~/.drover otherwise"
"""Where Drover keeps its state when ``--home`` is not given; the one wording of it."""

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", metavar="DIR", help=f"State directory (default: {HOME_DEFAULT})."),
]


class Runtime(StrEnum):
    """How the local runner starts a pod's processes."""

    SANDBOX = "sandbox"
    PROCESS = "process"


RuntimeOption = Annotated[
    Runtime | None,
    typer.Option(
        "--runtime",
        case_sensitive=False,
        help="How pods run: sandbox (bubblewrap: read-only host, private /tmp) or process "
        "(plain processes). Default: sandbox when bubblewrap is installed, else process; "
        "$DROVER_LOCAL_RUNTIME overrides the default.",
    ),
]


def name_value_pairs(pairs: list[str], option: str, hint: str | None = None) -> dict[str, str]:
    """``NAME=VALUE`` options (``--param``, ``--output-parameter``) as a mapping; exit 2 naming
    ``option`` for one that is not."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            abort(SpecError(option, f"{pair!r} is not NAME=VALUE", hint))
        found[name] = value
    return found


def check_runtime() -> None:
    """Exit 2 before anything starts when the runtime asked for (``--runtime``, which sets
    ``$DROVER_LOCAL_RUNTIME``) is unknown or cannot run here (no bubblewrap for sandbox)."""
    chosen = os.environ.get("DROVER_LOCAL_RUNTIME")
    choices = ", ".join(r.value for r in Runtime)
    if chosen and chosen not in {r.value for r in Runtime}:
        abort(f"DROVER_LOCAL_RUNTIME={chosen!r} is not a local runtime; choose {choices}", code=2)
    from engine.backends.local.runtime_choice import runtime_choice

    try:
        runtime_choice()
    except DroverError as error:
        abort(f"{error} (local runtimes: {choices})", code=2)


class _PlainHelpOption:
    """``--help`` without a type after it."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            _tidy(option)
        return option


class DroverCommand(_PlainHelpOption, TyperCommand):
    """Help as click spells it: ``SPEC`` for a required argument, ``[NODE]`` for an optional
    one, and no type after a flag (``--wait``, not ``--wait <bool>``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            _tidy(param)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = str(param.metavar or (param.name or "").upper())
                name += "..." if param.nargs != 1 else ""
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class DroverGroup(_PlainHelpOption, TyperGroup):
    """A command group whose ``--help`` shows no type either."""


def _tidy(param: Any) -> None:
    if isinstance(param, TyperArgument):
        if param.metavar is None:
            param.metavar = (param.name or "").upper()
    elif getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""


class DroverTyper(typer.Typer):
    """A ``typer.Typer`` whose commands are :class:`DroverCommand` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cls", DroverGroup)
        super().__init__(*args, **kwargs)

    def command(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        kwargs.setdefault("cls", DroverCommand)
        return super().command(*args, **kwargs)
