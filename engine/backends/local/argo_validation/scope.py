"""The variable scopes Argo's validator builds (workflow/validate/validate.go).

A template's scope holds its inputs, ``pod.name``, the retry variables, its own output paths,
and, as a steps or DAG template validates its children, what each child makes available
(``steps.X.outputs.result`` ...). Argo copies the scope for every step and task; here a
``Scope`` layers the few names one step or task adds over its template's scope instead, so a
step costs what it adds, not the size of the whole scope.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Final

from engine.backends.local.argo_validation.variables import (
    ANY_ITEM,
    ANY_WORKFLOW_OUTPUT_ARTIFACT,
    ANY_WORKFLOW_OUTPUT_PARAMETER,
    Placeholders,
    is_parameter,
)

__all__ = [
    "LEAF_KINDS",
    "POD_KINDS",
    "RETRY_VARIABLES",
    "Scope",
    "add_items",
    "add_outputs",
    "has_output",
    "template_type",
]

_TYPES = (
    ("container", "Container"),
    ("containerSet", "ContainerSet"),
    ("steps", "Steps"),
    ("dag", "DAG"),
    ("script", "Script"),
    ("resource", "Resource"),
    ("data", "Data"),
    ("suspend", "Suspend"),
    ("http", "HTTP"),
    ("plugin", "Plugin"),
)


LEAF_KINDS: Final = frozenset(
    {"Container", "ContainerSet", "Script", "Resource", "Data", "HTTP", "Plugin"}
)
"""``Template.IsLeaf``: the kinds that run something themselves."""
POD_KINDS: Final = frozenset({"Container", "ContainerSet", "Script", "Resource", "Data"})
"""``Template.IsPodType``."""
RETRY_VARIABLES: Final = (
    "retries",
    "lastRetry.exitCode",
    "lastRetry.status",
    "lastRetry.duration",
    "lastRetry.message",
)
"""In scope in a template with a retryStrategy."""


def template_type(template: dict[str, Any]) -> str:
    """``Template.GetType``: the first kind set, in Argo's order; "" when none is."""
    for key, kind in _TYPES:
        if template.get(key) is not None:
            return kind
    return ""


def _container_named_main(template: dict[str, Any]) -> bool:
    containers = (template.get("containerSet") or {}).get("containers") or []
    return any((c or {}).get("name") == "main" for c in containers)


def has_output(template: dict[str, Any]) -> bool:
    """``Template.HasOutput``: the template will have a result and an exit code."""
    return (
        any(template.get(key) is not None for key in ("container", "script", "data", "http"))
        or template.get("plugin") is not None
        or _container_named_main(template)
    )


class Scope:
    """A set of variable names over an optional parent (a wider scope, or the globals)."""

    __slots__ = ("names", "parent")

    def __init__(self, parent: Container[str] | None = None) -> None:
        self.names: set[str] = set()
        self.parent = parent

    def add(self, name: str) -> None:
        self.names.add(name)

    def __contains__(self, name: object) -> bool:
        return name in self.names or (self.parent is not None and name in self.parent)

    def child(self) -> Scope:
        """Argo's ``maps.Copy(stepScope, scope)``, without the copy: additions stay here."""
        return Scope(self)


def add_items(body: dict[str, Any], scope: Scope) -> str | None:
    """validate.go ``addItemsToScope``: ``item`` (or its keys) for a loop; the error text, if
    the loop is ill-formed."""
    items = body.get("withItems") or []
    param = body.get("withParam") or ""
    sequence = body.get("withSequence")
    if sum((bool(items), bool(param), sequence is not None)) > 1:
        return "only one of withItems, withParam, withSequence can be specified"
    if items:
        for item in items:
            if isinstance(item, list):
                for index in range(len(item)):
                    scope.add(f"item.[{index}]")
            elif isinstance(item, dict):
                for key in item:
                    scope.add(f"item.{key}")
            else:
                scope.add("item")
    elif param:
        scope.add("item")
        scope.add(ANY_ITEM)
    elif sequence is not None:
        if sequence.get("count") is not None and sequence.get("end") is not None:
            return "only one of count or end can be defined in withSequence"
        scope.add("item")
    return None


def add_outputs(
    template: dict[str, Any] | None,
    prefix: str,
    name: str,
    scope: Scope,
    globals_: dict[str, str],
    placeholders: Placeholders,
    *,
    aggregate: bool = False,
    ancestor: bool = False,
) -> None:
    """validate.go ``addOutputsToScope``: what step/task ``name`` (``prefix`` is ``steps`` or
    ``tasks``) makes available once it ran; a ``globalName`` also becomes a global."""
    ref = f"{prefix}.{name}"
    for suffix in (".id", ".startedAt", ".finishedAt", ".hostNodeName"):
        scope.add(ref + suffix)
    if template is None:
        return
    if template.get("daemon") is True:
        scope.add(f"{ref}.ip")
    if has_output(template):
        scope.add(f"{ref}.outputs.result")
        scope.add(f"{ref}.exitCode")
    outputs = template.get("outputs") or {}
    for kind, magic in (
        ("parameters", ANY_WORKFLOW_OUTPUT_PARAMETER),
        ("artifacts", ANY_WORKFLOW_OUTPUT_ARTIFACT),
    ):
        for output in outputs.get(kind) or []:
            scope.add(f"{ref}.outputs.{kind}.{output.get('name', '')}")
            global_name = output.get("globalName") or ""
            if not global_name:
                continue
            if is_parameter(global_name):
                scope.add(magic)  # resolved at run time: any such global is accepted
            else:
                key = f"workflow.outputs.{kind}.{global_name}"
                scope.add(key)
                globals_[key] = placeholders.new()
    if aggregate:
        if template_type(template) in ("Script", "ContainerSet"):
            scope.add(f"{ref}.outputs.result")
            scope.add(f"{ref}.exitCode")
        scope.add(f"{ref}.outputs.parameters")
    if ancestor:
        scope.add(f"{ref}.status")
