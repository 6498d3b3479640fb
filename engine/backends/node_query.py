"""Which pods a user means by a node: its id, full name, display name or template name.

``drover logs NAME setup-env`` should find the pods of setup-env as ``argo logs`` finds a pod:
a node named by id, name or display name stands for every pod at or below it (a Retry node's
attempts, a task group's workers); a template name does when only one node subtree uses it.
"""

from __future__ import annotations

from typing import Any

from engine.errors import SpecError

__all__ = ["pods_named"]

_BELOW = ("(", ".", "[")
"""What follows a node's name in the names of the nodes below it: ``x(0)``, ``x.task``, ``x[0]``."""


def pods_named(nodes: dict[str, dict[str, Any]], query: str) -> list[dict[str, Any]] | None:
    """The Pod nodes ``query`` stands for; None when it names no node.

    Raises :class:`SpecError` listing the candidates when it names several unrelated nodes.
    """
    matched = [
        n for n in nodes.values() if query in (n.get("id"), n.get("name"), n.get("displayName"))
    ]
    if not matched:
        matched = [n for n in nodes.values() if n.get("templateName") == query]
    if not matched:
        return None
    tops = [n for n in matched if not any(_is_below(n, other) for other in matched)]
    if len(tops) > 1:
        candidates = ", ".join(
            f"{n.get('displayName')} ({n.get('id')})"
            for n in sorted(tops, key=lambda n: str(n.get("name")))
        )
        raise SpecError(
            "NODE",
            f"{query!r} names {len(tops)} nodes: {candidates}",
            "give one of their display names or ids",
        )
    top = tops[0]
    return [n for n in nodes.values() if n.get("type") == "Pod" and (n is top or _is_below(n, top))]


def _is_below(node: dict[str, Any], other: dict[str, Any]) -> bool:
    name, prefix = str(node.get("name") or ""), str(other.get("name") or "")
    return (
        bool(prefix)
        and len(name) > len(prefix)
        and name.startswith(prefix)
        and name[len(prefix)] in _BELOW
    )
