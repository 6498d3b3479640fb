"""Fan-out expansion of ``withItems``, ``withParam`` and ``withSequence`` (Argo's ``expandTask``).

Each item yields the expanded name ``name(i:desc)`` and the ``{{item}}`` / ``{{item.key}}``
values substituted into the task or step.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from engine.backends.local.expressions import ExpressionError, evaluate_when
from engine.backends.local.variables import substitute_all

__all__ = ["ExpandedItem", "expand_items", "has_loop", "item_description", "sequence_items"]


@dataclass(frozen=True, slots=True)
class ExpandedItem:
    name: str
    body: dict[str, Any]


def has_loop(body: dict[str, Any]) -> bool:
    return "withItems" in body or "withParam" in body or "withSequence" in body


def _go_value(value: Any) -> str:
    """Go's ``%v`` for a JSON value (what Argo prints into names and ``{{item.x}}``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        inner = " ".join(f"{key}:{_go_value(val)}" for key, val in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(item) for item in value) + "]"
    if value is None:
        return "<nil>"
    return str(value)


def item_description(item: Any) -> str:
    if isinstance(item, dict):
        return ",".join(sorted(f"{key}:{_go_value(val)}" for key, val in item.items()))
    return _go_value(item)


def _item_scope(item: Any) -> dict[str, str]:
    if isinstance(item, dict):
        scope = {
            f"item.{key}": val if isinstance(val, str) else json.dumps(val, separators=(",", ":"))
            for key, val in item.items()
        }
        scope["item"] = json.dumps(item, separators=(",", ":"))
        return scope
    if isinstance(item, list):
        return {"item": json.dumps(item, separators=(",", ":"))}
    return {"item": _go_value(item)}


def _expanded_name(name: str, index: int, item: Any) -> str:
    """Argo's ``generateNodeName``: the description loses its own parentheses."""
    description = item_description(item).replace("(", "").replace(")", "")
    return f"{name}({index}:{description})"


def sequence_items(sequence: dict[str, Any]) -> list[str]:
    """Argo's ``expandSequence``: count/start/end with an optional printf format."""
    try:
        start = int(str(sequence.get("start", "0")))
        if "count" in sequence and "end" in sequence:
            raise ExpressionError("withSequence: only one of count or end can be defined")
        if "count" in sequence:
            count = int(str(sequence["count"]))
            numbers = list(range(start, start + count))
        elif "end" in sequence:
            end = int(str(sequence["end"]))
            numbers = (
                list(range(start, end + 1)) if end >= start else list(range(start, end - 1, -1))
            )
        else:
            raise ExpressionError("withSequence: one of count or end must be defined")
    except ValueError as exc:
        raise ExpressionError(f"withSequence: {exc}") from exc
    fmt = sequence.get("format")
    if fmt:
        pyfmt = re.sub(r"%(\d*)d", r"%\1d", str(fmt))
        return [pyfmt % number for number in numbers]
    return [str(number) for number in numbers]


def _never_runs(body: dict[str, Any]) -> bool:
    """Its ``when`` evaluates to false: Argo's ``expandTask`` / ``expandStep`` then take a loop
    that cannot be expanded (e.g. an absent optional left in ``withParam``) as no items."""
    try:
        return not evaluate_when(str(body.get("when", "")))
    except ExpressionError:
        return False


def _items_of(body: dict[str, Any]) -> list[Any]:
    if "withItems" in body:
        return list(body["withItems"] or [])
    if "withParam" in body:
        raw = body["withParam"]
        if isinstance(raw, list):
            return raw
        try:
            parsed = json.loads(str(raw))
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list):
            if _never_runs(body):
                return []
            raise ExpressionError(
                f"withParam value could not be parsed as a JSON list: {str(raw).strip()}"
            )
        return parsed
    try:
        return sequence_items(dict(body["withSequence"]))
    except ExpressionError:
        if _never_runs(body):
            return []
        raise


def expand_items(body: dict[str, Any]) -> list[ExpandedItem]:
    """Expand a task/step with a loop into one body per item (``{{item}}`` substituted)."""
    items = _items_of(body)
    plain = {k: v for k, v in body.items() if k not in ("withItems", "withParam", "withSequence")}
    expanded: list[ExpandedItem] = []
    for index, item in enumerate(items):
        new_body = substitute_all(plain, _item_scope(item))
        name = _expanded_name(str(body["name"]), index, item)
        new_body["name"] = name
        expanded.append(ExpandedItem(name=name, body=new_body))
    return expanded
