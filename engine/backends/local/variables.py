"""``{{...}}`` variable substitution, as Argo's fasttemplate-based ``Replace`` does it.

A tag is ``{{name}}`` (spaces around the name are allowed). Known names are replaced by
their string value; unknown tags are left untouched so that a later, wider scope can
resolve them (Argo substitutes in several passes: workflow globals, then inputs, then
task/step outputs and items). ``unresolved`` reports what is still left, so the runner can
refuse to start a process with a dangling ``{{inputs.parameters.x}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["Scope", "substitute", "substitute_all", "unresolved"]

Scope = Mapping[str, str]

_TAG: Final = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# References that must be resolved before a process starts (globals may legitimately be absent).
_MUST_RESOLVE: Final = re.compile(
    r"^(inputs\.|outputs\.|tasks\.|steps\.|item\b|workflow\.parameters\.)"
)


def substitute(text: str, scope: Scope) -> str:
    """Replace every known ``{{name}}`` tag in ``text``."""
    if "{{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        value = scope.get(name)
        return match.group(0) if value is None else value

    return _TAG.sub(replace, text)


def substitute_all(value: Any, scope: Scope) -> Any:
    """Substitute in every string of a JSON-like structure (keys are left alone)."""
    if isinstance(value, str):
        return substitute(value, scope)
    if isinstance(value, list):
        return [substitute_all(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: substitute_all(item, scope) for key, item in value.items()}
    return value


def unresolved(value: Any) -> list[str]:
    """Tags still present in ``value`` that name inputs, outputs, tasks, steps or items."""
    found: list[str] = []
    if isinstance(value, str):
        for match in _TAG.finditer(value):
            if _MUST_RESOLVE.match(match.group(1)) and match.group(0) not in found:
                found.append(match.group(0))
    elif isinstance(value, list):
        for item in value:
            found.extend(tag for tag in unresolved(item) if tag not in found)
    elif isinstance(value, dict):
        for item in value.values():
            found.extend(tag for tag in unresolved(item) if tag not in found)
    return found
