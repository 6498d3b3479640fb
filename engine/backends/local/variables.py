"""``{{...}}`` variable substitution, as Argo's fasttemplate-based ``Replace`` does it.

A tag is ``{{name}}`` (spaces around the name are allowed) or an expression tag
``{{=expr}}`` (expr-lang, evaluated over the same scope, see ``exprlang``). Known names are
replaced by their string value; unknown tags (and expressions that fail, as Argo's
``allowUnresolved`` pass does) are left untouched so that a later, wider scope can resolve
them (Argo substitutes in several passes: workflow globals, then inputs, then task/step
outputs and items). ``unresolved`` reports what is still left, so the runner can
refuse to start a process with a dangling ``{{inputs.parameters.x}}``.

A scope value of None is an *absent optional*: the output of a Skipped or Omitted task/step
that declares no ``valueFrom.default`` (Argo v4.1: ``Key.SetSkipped`` with a nil value,
util/variables/scope.go). A simple tag naming one cannot be substituted (``simpleReplaceStrict``,
util/template/simple_template.go); an expression sees ``nil``, so ``??`` picks a fallback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from engine.backends.local import exprlang
from engine.backends.local.expressions import ExpressionError

__all__ = [
    "AbsentOptionalError",
    "AbsentPolicy",
    "Scope",
    "evaluate_tag",
    "go_quote",
    "substitute",
    "substitute_all",
    "unresolved",
]

#: Variable name → value; None marks an absent optional (see the module docstring).
Scope = Mapping[str, str | None]

#: What a tag naming an absent optional does: ``"tags"`` — a simple tag fails, an expression
#: that fails is left for later (Argo's ``Replace``, whatever its allowUnresolved); ``"strict"``
#: — an expression reading one that fails or yields nil fails too (``ReplaceStrictAny`` over a
#: task or step, whose identifiers are all present); ``"keep"`` — both are left unresolved
#: (``processItem`` for a task or step whose ``when`` is false, nil values dropped).
AbsentPolicy = Literal["tags", "strict", "keep"]


class AbsentOptionalError(ExpressionError):
    """A reference to an absent optional that nothing handled: terminal, with Argo's message."""


def go_quote(text: str) -> str:
    """Go's ``%q`` of a string (``strconv.Quote``), as Argo's messages print names."""
    return json.dumps(text, ensure_ascii=False)


# fasttemplate: a tag runs from "{{" to the next "}}"; simple tags hold no braces.
_TAG: Final = re.compile(r"\{\{(?:=(?P<expr>.*?)|\s*(?P<name>[^{}]*?)\s*)\}\}", re.S)
_WAITS_FOR_EXIT: Final = ("workflow.status", "workflow.failures")
# References that must be resolved before a process starts (globals may legitimately be absent).
_MUST_RESOLVE: Final = re.compile(
    r"^(inputs\.|outputs\.|tasks\.|steps\.|item\b|workflow\.parameters\.)"
)


class _Env:
    """The expression environment of a scope, built on the first ``{{=`` tag only, and what an
    absent optional does."""

    __slots__ = ("absent", "env", "scope")

    def __init__(self, scope: Scope, absent: AbsentPolicy) -> None:
        self.scope = scope
        self.absent = absent
        self.env: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        if self.env is None:
            self.env = exprlang.build_env(self.scope)
        return self.env


def evaluate_tag(expression: str, scope: Scope, env: dict[str, Any] | None = None) -> str:
    """Argo's ``expressionReplace`` for one ``{{=expression}}``; raises ``ExprError``.

    ``workflow.status`` / ``workflow.failures`` wait until the exit handler's scope has them.
    """
    for name in _WAITS_FOR_EXIT:
        if name in expression and name not in scope:
            raise exprlang.UnknownName(f"unknown name {name}")
    result = exprlang.evaluate(expression, env if env is not None else exprlang.build_env(scope))
    if result is None:
        raise exprlang.ExprError(f"failed to evaluate expression {go_quote(expression)}")
    return exprlang.go_format(result)


def _absent_expression(error: exprlang.ExprError) -> AbsentOptionalError:
    """``expressionReplaceCore``'s terminal error for an expression tag that failed."""
    message = str(error)
    if not message.startswith("failed to evaluate expression"):
        message = f"failed to evaluate expression: {message}"
    return AbsentOptionalError(message)


def _substitute(text: str, scope: Scope, env: _Env) -> str:
    if "{{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        expression = match.group("expr")
        if expression is not None:
            try:
                return evaluate_tag(expression, scope, env.get())
            except exprlang.ExprError as error:
                if (
                    env.absent == "strict"
                    and not isinstance(error, exprlang.UnknownName)
                    and exprlang.reads_absent(expression, scope)
                ):
                    raise _absent_expression(error) from None
                return match.group(0)
        name = match.group("name")
        value = scope.get(name)
        if value is None:
            if env.absent != "keep" and name in scope:
                raise AbsentOptionalError(
                    f"unable to substitute {match.group(0)}: output is an absent optional "
                    "(skipped/omitted node with no default)"
                )
            return match.group(0)
        return value

    return _TAG.sub(replace, text)


def substitute(text: str, scope: Scope, absent: AbsentPolicy = "tags") -> str:
    """Replace every known ``{{name}}`` tag and every resolvable ``{{=expr}}`` in ``text``;
    raises ``AbsentOptionalError`` where ``absent`` says an absent optional fails."""
    if "{{" not in text:
        return text
    return _substitute(text, scope, _Env(scope, absent))


def _substitute_all(value: Any, scope: Scope, env: _Env) -> Any:
    if isinstance(value, str):
        return _substitute(value, scope, env) if "{{" in value else value
    if isinstance(value, list):
        return [_substitute_all(item, scope, env) for item in value]
    if isinstance(value, dict):
        return {key: _substitute_all(item, scope, env) for key, item in value.items()}
    return value


def substitute_all(value: Any, scope: Scope, absent: AbsentPolicy = "tags") -> Any:
    """Substitute in every string of a JSON-like structure (keys are left alone)."""
    return _substitute_all(value, scope, _Env(scope, absent))


def unresolved(value: Any) -> list[str]:
    """Tags still present that name inputs, outputs, tasks, steps or items, and expressions."""
    found: list[str] = []
    if isinstance(value, str):
        for match in _TAG.finditer(value):
            name = match.group("name")
            must = name is None or _MUST_RESOLVE.match(name)
            if must and match.group(0) not in found:
                found.append(match.group(0))
    elif isinstance(value, list):
        for item in value:
            found.extend(tag for tag in unresolved(item) if tag not in found)
    elif isinstance(value, dict):
        for item in value.values():
            found.extend(tag for tag in unresolved(item) if tag not in found)
    return found
