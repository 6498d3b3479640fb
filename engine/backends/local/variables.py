"""``{{...}}`` variable substitution, as Argo's fasttemplate-based ``Replace`` does it.

A tag is ``{{name}}`` (spaces around the name are allowed) or an expression tag
``{{=expr}}`` (expr-lang, evaluated over the same scope, see ``exprlang``). Known names are
replaced by their string value; unknown tags (and expressions that fail, as Argo's
``allowUnresolved`` pass does) are left untouched so that a later, wider scope can resolve
them (Argo substitutes in several passes: workflow globals, then inputs, then task/step
outputs and items). ``unresolved`` reports what is still left, so the runner can
refuse to start a process with a dangling ``{{inputs.parameters.x}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from engine.backends.local import exprlang

__all__ = ["Scope", "evaluate_tag", "substitute", "substitute_all", "unresolved"]

Scope = Mapping[str, str]

# fasttemplate: a tag runs from "{{" to the next "}}"; simple tags hold no braces.
_TAG: Final = re.compile(r"\{\{(?:=(?P<expr>.*?)|\s*(?P<name>[^{}]*?)\s*)\}\}", re.S)
_WAITS_FOR_EXIT: Final = ("workflow.status", "workflow.failures")
# References that must be resolved before a process starts (globals may legitimately be absent).
_MUST_RESOLVE: Final = re.compile(
    r"^(inputs\.|outputs\.|tasks\.|steps\.|item\b|workflow\.parameters\.)"
)


class _Env:
    """The expression environment of a scope, built on the first ``{{=`` tag only."""

    __slots__ = ("env", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
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
        raise exprlang.ExprError(f"failed to evaluate expression {expression!r}")
    return exprlang.go_format(result)


def _substitute(text: str, scope: Scope, env: _Env) -> str:
    if "{{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        expression = match.group("expr")
        if expression is not None:
            try:
                return evaluate_tag(expression, scope, env.get())
            except exprlang.ExprError:
                return match.group(0)
        value = scope.get(match.group("name"))
        return match.group(0) if value is None else value

    return _TAG.sub(replace, text)


def substitute(text: str, scope: Scope) -> str:
    """Replace every known ``{{name}}`` tag and every resolvable ``{{=expr}}`` in ``text``."""
    if "{{" not in text:
        return text
    return _substitute(text, scope, _Env(scope))


def _substitute_all(value: Any, scope: Scope, env: _Env) -> Any:
    if isinstance(value, str):
        return _substitute(value, scope, env) if "{{" in value else value
    if isinstance(value, list):
        return [_substitute_all(item, scope, env) for item in value]
    if isinstance(value, dict):
        return {key: _substitute_all(item, scope, env) for key, item in value.items()}
    return value


def substitute_all(value: Any, scope: Scope) -> Any:
    """Substitute in every string of a JSON-like structure (keys are left alone)."""
    return _substitute_all(value, scope, _Env(scope))


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
