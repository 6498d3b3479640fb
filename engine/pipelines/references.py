"""References from one job to pipeline parameters and to earlier jobs' results.

Written inside values as ``${...}``::

    ${params.NAME}              a pipeline parameter
    ${jobs.JOB.outputs.NAME}    an output a script job wrote with output(NAME, value)
    ${jobs.JOB.result}          standard output (script, container) or response body (http)
    ${jobs.JOB.condition}       "true" or "false", what a script passed to set_condition

Other ``${...}`` text (a shell's ``${HOME}``) is left alone. Each reference has one Argo
spelling in a DAG task's scope (:meth:`Reference.argo`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["Reference", "find_references", "parse_reference", "replace_references"]

RefKind = Literal["param", "output", "result", "condition"]

_NAME: Final = r"[A-Za-z_][A-Za-z0-9_]*"
_JOB: Final = r"[a-z][-a-z0-9]*"
REFERENCE_BODY: Final = re.compile(
    rf"params\.(?P<param>{_NAME})"
    rf"|jobs\.(?P<job>{_JOB})\.(?:outputs\.(?P<output>{_NAME})|(?P<special>result|condition))"
)
_INTERPOLATION: Final = re.compile(r"\$\{\s*(?P<body>(?:params|jobs)\.[^}]*?)\s*\}")


@dataclass(frozen=True, slots=True)
class Reference:
    kind: RefKind
    name: str
    """The parameter or output name (``result``/``condition`` for those kinds)."""
    job: str | None = None

    @property
    def text(self) -> str:
        """How a user writes it (without ``${}``)."""
        if self.kind == "param":
            return f"params.{self.name}"
        if self.kind == "output":
            return f"jobs.{self.job}.outputs.{self.name}"
        return f"jobs.{self.job}.{self.kind}"

    def argo(self) -> str:
        """The Argo variable in a DAG task's scope, without braces."""
        if self.kind == "param":
            return f"workflow.parameters.{self.name}"
        if self.kind == "result":
            return f"tasks.{self.job}.outputs.result"
        return f"tasks.{self.job}.outputs.parameters.{self.name}"

    @property
    def parameter_name(self) -> str:
        """A template input parameter carrying this value into a job's template."""
        return f"from-{self.job}-{self.name}" if self.job else f"param-{self.name}"


def parse_reference(body: str) -> Reference | None:
    """``jobs.a.outputs.x`` → Reference; None when it is not a reference."""
    match = REFERENCE_BODY.fullmatch(body)
    if match is None:
        return None
    if match["param"]:
        return Reference("param", match["param"])
    if match["output"]:
        return Reference("output", match["output"], match["job"])
    special: RefKind = "result" if match["special"] == "result" else "condition"
    return Reference(special, special, match["job"])


def find_references(text: str) -> list[Reference]:
    """Every ``${...}`` reference in ``text``; a malformed one raises ValueError."""
    found: list[Reference] = []
    for match in _INTERPOLATION.finditer(text):
        reference = parse_reference(match["body"])
        if reference is None:
            raise ValueError(
                f"'${{{match['body']}}}' is not a reference; use ${{params.NAME}}, "
                "${jobs.JOB.outputs.NAME}, ${jobs.JOB.result} or ${jobs.JOB.condition}"
            )
        if reference not in found:
            found.append(reference)
    return found


def replace_references(text: str, render: Callable[[Reference], str]) -> str:
    """``text`` with each ``${...}`` reference replaced by ``render(reference)``."""

    def replace(match: re.Match[str]) -> str:
        reference = parse_reference(match["body"])
        return match[0] if reference is None else render(reference)

    return _INTERPOLATION.sub(replace, text)
