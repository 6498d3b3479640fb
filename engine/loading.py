"""Read spec files (YAML or JSON) into validated models, turning every problem into a SpecError."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from engine import yaml_io
from engine.errors import SpecError
from engine.spec import LENGTH_HINTS, PATTERN_HINTS, Execution, ExecutionFile

__all__ = [
    "describe_error",
    "field_path",
    "load_execution",
    "parse_document",
    "parse_execution",
    "read_document",
    "read_execution_json",
    "resolve_project_path",
    "validate_model",
]

M = TypeVar("M", bound=BaseModel)


def read_document(path: Path) -> dict[str, Any]:
    """One YAML or JSON mapping from a file (a ``.json`` file is read as JSON only)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(path), "no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), f"cannot read: {exc}") from None
    return parse_document(text, path)


def parse_document(text: str, path: Path) -> dict[str, Any]:
    """The mapping in ``text``, the content of the file at ``path``."""
    language = "JSON" if path.suffix == ".json" else "YAML"
    try:
        data = json.loads(text) if language == "JSON" else yaml_io.load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError(str(path), f"not valid {language}: {exc}") from None
    except RecursionError:  # json's decoder recurses once per level of nesting
        raise SpecError(str(path), f"{language} nested too deeply to be read") from None
    if not isinstance(data, dict):
        raise SpecError(str(path), "the document must be a mapping of fields")
    return data


_BRANCH_PREFIXES = ("function-", "tagged-union", "constrained-")
_BRANCH_LABELS = frozenset({"str", "int", "float", "bool", "_SecretValue"})


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("flows", 0, "groups", 1, "threads")`` → ``flows[0].groups[1].threads``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(_BRANCH_PREFIXES) or part in _BRANCH_LABELS or "[" in part:
            continue  # pydantic's union branch labels carry no meaning for users
        else:
            out += f".{part}" if out else part
    return out


def validate_model(model: type[M], data: dict[str, Any]) -> M:
    """Validate ``data``, or raise a SpecError naming the first bad field (the text lists all)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = _errors_worth_naming(exc.errors(include_url=False))
        first = errors[0]
        path, message = _located(field_path(tuple(first["loc"])), describe_error(first))
        if len(errors) > 1:
            more = "; ".join(
                f"{field_path(tuple(e['loc'])) or '(root)'}: {describe_error(e)}"
                for e in errors[1:6]
            )
            message += f" — and {len(errors) - 1} more: {more}"
        raise SpecError(path, message) from None


def _located(path: str, message: str) -> tuple[str, str]:
    # Cross-field checks run on the whole model and name their field at the start of the text.
    match = _LEADING_PATH.match(message)
    if match and not path:
        return match["path"], match["rest"]
    return path, message


_LEADING_PATH = re.compile(r"^(?P<path>[a-z_]+(?:\[\d+\]|\.[a-z_]+)*): (?P<rest>.+)$", re.S)


def describe_error(error: Any) -> str:
    """A pydantic error's message in words a spec author can act on."""
    if error["type"] == "extra_forbidden":
        return "unknown field; remove it or check its spelling"
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{error['input']!r} is not one of {expected}"
    if error["type"] == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        hint = PATTERN_HINTS.get(pattern, f"it must match {pattern}")
        return f"{error['input']!r} is not allowed here; {hint}"
    if error["type"] == "string_too_long" and isinstance(error.get("input"), str):
        limit = error.get("ctx", {}).get("max_length")
        too_long = f"is {len(error['input'])} characters, at most {limit} are allowed"
        hint = LENGTH_HINTS.get(limit, "")
        return f"{too_long}: {hint}" if hint else too_long
    return str(error["msg"]).removeprefix("Value error, ")


def _errors_worth_naming(errors: list[Any]) -> list[Any]:
    # A value that fails every branch of a union yields one error per branch; keep one per field.
    # A default made from another field (a scenario's location from its id) is not made when
    # that field is invalid: the error names the field already.
    seen: set[str] = set()
    kept = []
    for error in errors:
        key = field_path(tuple(error["loc"]))
        if key not in seen and error["type"] != "default_factory_not_called":
            seen.add(key)
            kept.append(error)
    return kept


def parse_execution(data: dict[str, Any]) -> Execution:
    if data.get("kind", "Execution") != "Execution":
        raise SpecError("kind", f"expected 'Execution', got {data.get('kind')!r}")
    body = {k: v for k, v in data.items() if k not in ("kind", "apiVersion")}
    return validate_model(Execution, body)


def read_execution_json(path: Path) -> Execution | None:
    """The execution in a ``.json`` spec, read by pydantic's own JSON parser with no Python
    dicts in between (100,000 scenarios: 0.1 s sooner). None for any other file, or one that is
    not a valid execution: the caller then reads it the careful way, which names the problem.
    A relative ``project.path`` is left as written (see :func:`resolve_project_path`)."""
    if path.suffix != ".json":
        return None
    try:
        parsed = ExecutionFile.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
    fields = {name: getattr(parsed, name) for name in Execution.model_fields}
    return Execution.model_construct(parsed.model_fields_set & fields.keys(), **fields)


def load_execution(path: Path, document: dict[str, Any] | None = None) -> Execution:
    """Load a spec file; a relative ``project.path`` is taken relative to the file's directory.

    ``document`` is the file's content when the caller has read it already (read_document).
    """
    execution = read_execution_json(path) if document is None else None
    if execution is None:
        execution = parse_execution(read_document(path) if document is None else document)
    return resolve_project_path(execution, path)


def resolve_project_path(execution: Execution, path: Path) -> Execution:
    """``project.path`` made absolute from the directory of the spec file at ``path``."""
    source = execution.project.path
    if source is not None and not Path(source).is_absolute():
        absolute = str((path.parent / source).resolve())
        project = execution.project.model_copy(update={"path": absolute})
        execution = execution.model_copy(update={"project": project})
    resolved = execution.project.path
    if resolved is not None and not Path(resolved).is_dir():
        raise SpecError(
            "project.path",
            f"'{source}' is not a directory (looked for {resolved}): give the test project's "
            "folder, absolute or relative to the spec file, or use repo: instead",
        )
    return execution
