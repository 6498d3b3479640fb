"""The error of the Argo validator port: Argo's message, the field path, a hint.

Argo builds its messages by wrapping: a check deep in a template fails with
``inputs.parameters.message was not supplied``; each caller puts its own prefix in front
(``templates.echo ...``, ``templates.main.steps[0].a ...``). ``Invalid.wrap`` does the same, so
the final text is Argo's, while ``path`` keeps naming the innermost field at fault.
"""

from __future__ import annotations

from engine.errors import SpecError

__all__ = ["SCOPE_HINT", "Invalid"]

SCOPE_HINT = (
    "no such variable here: check its spelling, that the input is declared, and that a "
    "step or task it names runs before this one (DAG: is a dependency)"
)


class Invalid(Exception):
    """A workflow Argo's validator refuses; ``message`` grows as callers wrap it."""

    def __init__(self, message: str, path: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.hint = hint

    def wrap(self, prefix: str) -> Invalid:
        """Argo's ``errors.Errorf(..., "<prefix> %s", err)``: the same error, prefixed."""
        self.message = f"{prefix} {self.message}"
        return self

    def spec_error(self) -> SpecError:
        return SpecError(self.path, self.message, self.hint)
