"""Read a pipeline document (YAML or JSON) into a checked Pipeline, or raise a SpecError.

Field paths name jobs and stages rather than counting them: ``jobs[build].script.language``,
``stages[test].jobs[unit].needs[0]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import SpecError
from engine.loading import describe_error, read_document
from engine.pipelines.model import Pipeline
from engine.pipelines.validation import check_pipeline

__all__ = ["is_pipeline_document", "load_pipeline", "parse_pipeline"]

PIPELINE_KIND = "Pipeline"


def is_pipeline_document(document: dict[str, Any]) -> bool:
    """True for a ``kind: Pipeline`` document (executions have no kind or ``Execution``)."""
    return document.get("kind") == PIPELINE_KIND


def parse_pipeline(document: dict[str, Any]) -> Pipeline:
    """Validate a document's shape, then the rules between its jobs."""
    if not is_pipeline_document(document):
        raise SpecError("kind", f"expected {PIPELINE_KIND!r}, got {document.get('kind')!r}")
    body = {k: v for k, v in document.items() if k not in ("kind", "apiVersion")}
    try:
        pipeline = Pipeline.model_validate(body)
    except ValidationError as exc:
        raise _spec_error(exc, body) from None
    check_pipeline(pipeline)
    return pipeline


def load_pipeline(path: Path) -> Pipeline:
    return parse_pipeline(read_document(path))


def _spec_error(exc: ValidationError, body: dict[str, Any]) -> SpecError:
    errors = exc.errors(include_url=False)
    described = [(_named_path(tuple(e["loc"]), body), describe_error(e)) for e in errors]
    # A value failing every branch of a union yields one error per branch: keep one per field.
    unique = list(dict.fromkeys(described))
    path, message = unique[0]
    if len(unique) > 1:
        more = "; ".join(f"{p or '(root)'}: {m}" for p, m in unique[1:6])
        message += f" — and {len(unique) - 1} more: {more}"
    return SpecError(path, message)


def _named_path(loc: tuple[int | str, ...], body: dict[str, Any]) -> str:
    """``("jobs", 2, "needs", 0)`` → ``jobs[build].needs[0]``: jobs and stages by name."""
    out = ""
    node: Any = body
    for index, part in enumerate(loc):
        item: Any = None
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            by_name = index > 0 and loc[index - 1] in ("jobs", "stages") and isinstance(name, str)
            out += f"[{name}]" if by_name and name else f"[{part}]"
        elif part.startswith(("function-", "tagged-union")) or "[" in part:
            continue  # pydantic's union branch labels carry no meaning for users
        else:
            item = node.get(part) if isinstance(node, dict) else None
            out += f".{part}" if out else part
        node = item
    return out
