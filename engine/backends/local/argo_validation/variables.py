"""``{{...}}`` tags as Argo's validator reads them: found, substituted, checked against a scope.

Tags are found the way ``fasttemplate`` finds them (util/template/validate.go, replace.go): a
tag runs from ``{{`` to the *next* ``}}``, so ``{{steps.run-{{inputs.parameters.d}}.status}}``
is the tag ``steps.run-{{inputs.parameters.d`` followed by the text ``.status}}``; a ``{{``
with no ``}}`` after it makes the whole text unreadable. A tag starting with ``=`` is an
expression: never checked (``template.Validate``), and left as written by the substitution
here (Argo evaluates it when it can; see the package docstring).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Container, Iterator
from typing import Final

__all__ = [
    "PLACEHOLDER_PREFIX",
    "Placeholders",
    "UnterminatedTag",
    "is_parameter",
    "iter_tags",
    "replace_tags",
    "unresolved_tag",
]

PLACEHOLDER_PREFIX: Final = "__argo__internal__placeholder-"
"""util/template/placeholder.go: what the validator puts where a value is known only later."""

ANY_ITEM: Final = "item.*"
ANY_WORKFLOW_OUTPUT_PARAMETER: Final = "workflow.outputs.parameters.*"
ANY_WORKFLOW_OUTPUT_ARTIFACT: Final = "workflow.outputs.artifacts.*"
"""validate.go's magic scope entries: any ``item.<key>`` (withParam), any global output whose
name is itself a parameter (``globalName: "{{...}}"``)."""

# common.GlobalVarValidWorkflowVariablePrefix: only tags under these roots are checked at all.
_CHECKED_ROOTS: Final = ("item.", "steps.", "inputs.", "outputs.", "pod.", "workflow.", "tasks.")
# resolveAllVariables' exceptions: prefixes accepted whatever the scope holds.
_ALWAYS_ACCEPTED: Final = (
    "outputs.",  # a template's own outputs, for metrics
    "workflow.creationTimestamp",
    "workflow.scheduledTime",
    "workflow.duration",
    "tasks.name",
    "steps.name",
    "node.name",
)
# validate.go paramRegex: a value that is a variable reference (e.g. a globalName).
_PARAMETER: Final = re.compile(r"\{\{[-a-zA-Z0-9]+(\.[-a-zA-Z0-9_]+)*\}\}")


class UnterminatedTag(ValueError):
    """fasttemplate's parse error: a ``{{`` with no ``}}`` after it."""

    def __init__(self, text: str, rest: str) -> None:
        super().__init__(
            f"Cannot find end tag={json.dumps('}}')} in the template={json.dumps(text)} "
            f"starting from {json.dumps(rest)}"
        )


class Placeholders:
    """Argo's ``PlaceholderGenerator``: a new ``__argo__internal__placeholder-N`` per call."""

    def __init__(self) -> None:
        self._next = 0

    def new(self) -> str:
        value = f"{PLACEHOLDER_PREFIX}{self._next}"
        self._next += 1
        return value


def is_parameter(text: str) -> bool:
    """validate.go ``isParameter``: ``text`` holds a ``{{name.path}}`` reference."""
    return _PARAMETER.search(text) is not None


def iter_tags(text: str) -> Iterator[tuple[int, int, str]]:
    """Every tag of ``text`` as (start of ``{{``, end after ``}}``, the tag between);
    raises ``UnterminatedTag`` as fasttemplate's parser does."""
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            return
        end = text.find("}}", start + 2)
        if end < 0:
            raise UnterminatedTag(text, text[start + 2 :])
        yield start, end + 2, text[start + 2 : end]
        position = end + 2


def check_tags(text: str) -> None:
    """Raise ``UnterminatedTag`` if fasttemplate cannot parse ``text``."""
    for _ in iter_tags(text):
        pass


def _escaped(value: str) -> str:
    # The substitution works on a template's JSON text: a value goes in string-escaped.
    return json.dumps(value, ensure_ascii=False)[1:-1]


def replace_tags(text: str, values: Callable[[str], str | None]) -> str:
    """Argo's ``template.Replace`` with unresolved tags allowed (``simpleReplaceStrict``):
    a known name is replaced (escaped for JSON text), an unknown one kept, a nested
    ``{{a.{{b}}`` has its inner tag replaced; expressions are kept."""
    if "{{" not in text:
        return text
    parts: list[str] = []
    position = 0
    for start, end, tag in iter_tags(text):
        parts.append(text[position:start])
        position = end
        if tag.startswith("="):
            parts.append(text[start:end])
            continue
        value = values(tag.strip())
        if value is not None:
            parts.append(_escaped(value))
            continue
        nested = tag.rfind("{{")
        if nested > 0:
            inner = values(tag[nested + 2 :])
            if inner is not None:
                parts.append("{{" + tag[:nested] + _escaped(inner))
                continue
        parts.append(text[start:end])
    parts.append(text[position:])
    return "".join(parts)


def unresolved_tag(
    text: str,
    in_scope: Container[str],
    magic: Container[str],
    *,
    workflow_template: bool = False,
) -> str | None:
    """validate.go ``resolveAllVariables``: the first tag of ``text`` that names a variable
    the scope lacks, as Argo prints it (``{{  workflow.x  }}``, spaces kept); None if all
    resolve. ``magic`` holds the ``*`` entries (``ANY_ITEM`` ...) in effect."""
    for _, _, tag in iter_tags(text):
        if tag.startswith("="):
            continue  # template.Validate: expressions are not checked
        name = tag.strip()
        if not name.startswith(_CHECKED_ROOTS) or name in in_scope:
            continue
        if (name == "item" or name.startswith("item.")) and ANY_ITEM in magic:
            continue
        if name.startswith("workflow.outputs.parameters.") and (
            ANY_WORKFLOW_OUTPUT_PARAMETER in magic
        ):
            continue
        if name.startswith("workflow.outputs.artifacts.") and ANY_WORKFLOW_OUTPUT_ARTIFACT in magic:
            continue
        if name.startswith(_ALWAYS_ACCEPTED):
            continue
        if workflow_template and name.startswith("workflow.parameters"):
            continue
        return "{{" + tag + "}}"
    return None
