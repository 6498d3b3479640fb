"""Node field selectors (``argo resume/stop --node-field-selector``), as Argo matches them.

Argo parses the selector with Kubernetes' ``fields.ParseSelector`` (comma-separated terms
``key=value``, ``key==value`` or ``key!=value``; ``\\``, ``,`` and ``=`` escaped with a
backslash) and matches it against the node's fields in ``SelectorMatchesNode``
(workflow/util/util.go): ``displayName``, ``templateName``, ``phase``, ``name``, ``id``,
``templateRef.name``/``templateRef.template`` and ``inputs.parameters.<name>.value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["NodeSelector", "SelectorError"]


class SelectorError(ValueError):
    """A selector ``fields.ParseSelector`` rejects; the message is its own."""


@dataclass(frozen=True)
class _Term:
    key: str
    value: str
    equal: bool


@dataclass(frozen=True)
class NodeSelector:
    terms: tuple[_Term, ...]

    @classmethod
    def parse(cls, text: str) -> NodeSelector:
        terms = []
        for part in _split(text, ","):
            if not part.strip():
                continue
            for operator, equal in (("!=", False), ("==", True), ("=", True)):
                index = _find(part, operator)
                if index >= 0:
                    key = part[:index].strip()
                    value = _unescape(part[index + len(operator) :])
                    terms.append(_Term(key, value, equal))
                    break
            else:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        return cls(tuple(terms))

    def matches(self, node: dict[str, Any]) -> bool:
        fields = _node_fields(node)
        return all((fields.get(t.key) == t.value) == t.equal for t in self.terms)


def _node_fields(node: dict[str, Any]) -> dict[str, str]:
    """``SelectorMatchesNode``'s field set (a field the node lacks matches only ``!=``)."""
    ref = node.get("templateRef") or {}
    fields = {
        "displayName": str(node.get("displayName", "")),
        "templateName": str(node.get("templateName") or ref.get("template", "")),
        "phase": str(node.get("phase", "")),
        "name": str(node.get("name", "")),
        "id": str(node.get("id", "")),
    }
    if ref:
        fields["templateRef.name"] = str(ref.get("name", ""))
        fields["templateRef.template"] = str(ref.get("template", ""))
    for param in (node.get("inputs") or {}).get("parameters") or []:
        fields[f"inputs.parameters.{param['name']}.value"] = str(param.get("value", ""))
    return fields


def _split(text: str, separator: str) -> list[str]:
    """``text`` split on unescaped ``separator``s, escapes kept."""
    parts, current, escaped = [], "", False
    for char in text:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            current, escaped = current + char, True
        elif char == separator:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _find(text: str, operator: str) -> int:
    """Where the first unescaped ``operator`` starts, or -1."""
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif text.startswith(operator, index):
            return index
    return -1


def _unescape(text: str) -> str:
    out, escaped = "", False
    for char in text:
        if escaped or char != "\\":
            out, escaped = out + char, False
        else:
            escaped = True
    return out
