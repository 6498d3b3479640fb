"""Expression evaluation: ``when`` clauses (govaluate) and DAG ``depends`` logic.

``when`` is evaluated the way Argo's ``shouldExecute`` does: ``{{...}}`` has already been
substituted, the text is tokenised like govaluate, bare words (govaluate variables) become
strings (so ``tails == heads`` works unquoted), and the result must be a boolean.

``depends`` is Argo's enhanced depends logic: task names, optionally with a result
(``A.Succeeded``), joined by ``&&``, ``||``, ``!`` and parentheses. A bare name means
``(A.Succeeded || A.Skipped || A.Daemoned)``, widened by the task's ``continueOn``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DEPENDS_RESULTS",
    "ExpressionError",
    "TaskResults",
    "depends_task_names",
    "evaluate_depends",
    "evaluate_when",
    "expand_dependency",
]


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated; the message is shown on the node."""


# ---------------------------------------------------------------------------- when (govaluate)

Value = bool | float | str | list[Any]

_WHEN_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|<=|>=|=~|!~|&&|\|\||[<>!()+\-*/%,])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)

# Binary operators by precedence, lowest first (govaluate's planner order, stagePlanner.go):
# the separator makes the list that ``in`` looks into, as in ``x in ("a", "b")``.
_BINARY_LEVELS: Final[tuple[tuple[str, ...], ...]] = (
    (",",),
    ("||",),
    ("&&",),
    ("==", "!=", "<", ">", "<=", ">=", "=~", "!~", "in"),
    ("+", "-"),
    ("*", "/", "%"),
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "value" or "op"
    text: str
    value: Value = ""


def _tokenize_when(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _WHEN_TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(
                f"Invalid 'when' expression '{text}': invalid token at position {position} "
                '(hint: try wrapping the affected expression in quotes ("))'
            )
        position = match.end()
        if match.group("number") is not None:
            tokens.append(_Token("value", match.group("number"), float(match.group("number"))))
        elif match.group("string") is not None:
            raw = match.group("string")[1:-1]
            tokens.append(_Token("value", raw, re.sub(r"\\(.)", r"\1", raw)))
        elif match.group("op") is not None:
            tokens.append(_Token("op", match.group("op")))
        elif match.group("word") == "in":
            tokens.append(_Token("op", "in"))
        else:
            word = match.group("word")
            literal: Value = {"true": True, "false": False}.get(word, word)
            tokens.append(_Token("value", word, literal))
    return tokens


class _WhenParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize_when(text)
        self.index = 0

    def parse(self) -> Value:
        if not self.tokens:
            raise ExpressionError(f"Invalid 'when' expression '{self.text}': empty expression")
        value = self._binary(0)
        if self.index != len(self.tokens):
            raise ExpressionError(
                f"Invalid 'when' expression '{self.text}': unexpected "
                f"'{self.tokens[self.index].text}'"
            )
        return value

    def _peek_op(self) -> str | None:
        if self.index < len(self.tokens) and self.tokens[self.index].kind == "op":
            return self.tokens[self.index].text
        return None

    def _binary(self, level: int) -> Value:
        if level == len(_BINARY_LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while (op := self._peek_op()) in _BINARY_LEVELS[level]:
            self.index += 1
            right = self._binary(level + 1)
            left = _apply_binary(op, left, right, self.text)
        return left

    def _unary(self) -> Value:
        op = self._peek_op()
        if op in ("!", "-"):
            self.index += 1
            operand = self._unary()
            if op == "!":
                if not isinstance(operand, bool):
                    raise ExpressionError(
                        f"Invalid 'when' expression '{self.text}': '!' needs a bool"
                    )
                return not operand
            if isinstance(operand, bool) or not isinstance(operand, float):
                raise ExpressionError(
                    f"Invalid 'when' expression '{self.text}': '-' needs a number"
                )
            return -operand
        if op == "(":
            self.index += 1
            value = self._binary(0)
            if self._peek_op() != ")":
                raise ExpressionError(f"Invalid 'when' expression '{self.text}': unbalanced '('")
            self.index += 1
            return value
        if self.index >= len(self.tokens) or self.tokens[self.index].kind != "value":
            found = self.tokens[self.index].text if self.index < len(self.tokens) else "end"
            raise ExpressionError(f"Invalid 'when' expression '{self.text}': unexpected '{found}'")
        token = self.tokens[self.index]
        self.index += 1
        return token.value


def _is_number(value: Value) -> bool:
    return isinstance(value, float) and not isinstance(value, bool)


def _apply_binary(op: str, left: Value, right: Value, text: str) -> Value:
    if op == ",":  # separatorStage
        return [*left, right] if isinstance(left, list) else [left, right]
    if op == "in":  # inStage: Go's == between interface values
        if not isinstance(right, list):
            raise ExpressionError(
                f"Invalid 'when' expression '{text}': 'in' needs a list, as in x in (\"a\", \"b\")"
            )
        return any(type(left) is type(item) and left == item for item in right)
    if op in ("&&", "||"):
        if not (isinstance(left, bool) and isinstance(right, bool)):
            raise ExpressionError(f"Invalid 'when' expression '{text}': '{op}' needs booleans")
        return (left and right) if op == "&&" else (left or right)
    if op == "==":
        return type(left) is type(right) and left == right
    if op == "!=":
        return not (type(left) is type(right) and left == right)
    if op in ("=~", "!~"):
        try:
            matched = re.search(str(right), str(left)) is not None
        except re.error as exc:
            raise ExpressionError(f"Invalid 'when' expression '{text}': bad regex: {exc}") from exc
        return matched if op == "=~" else not matched
    if op in ("<", ">", "<=", ">="):
        both_numbers = _is_number(left) and _is_number(right)
        both_strings = isinstance(left, str) and isinstance(right, str)
        if not (both_numbers or both_strings):
            raise ExpressionError(
                f"Invalid 'when' expression '{text}': cannot compare '{left}' and '{right}'"
            )
        compare: dict[str, Callable[[Value, Value], bool]] = {
            "<": lambda a, b: a < b,  # type: ignore[operator]
            ">": lambda a, b: a > b,  # type: ignore[operator]
            "<=": lambda a, b: a <= b,  # type: ignore[operator]
            ">=": lambda a, b: a >= b,  # type: ignore[operator]
        }
        return compare[op](left, right)
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if not (_is_number(left) and _is_number(right)):
        raise ExpressionError(f"Invalid 'when' expression '{text}': '{op}' needs numbers")
    assert isinstance(left, float) and isinstance(right, float)
    try:
        return {
            "+": left + right,
            "-": left - right,
            "*": left * right,
            "/": left / right if right else float("inf"),
            "%": left % right if right else float("nan"),
        }[op]
    except ArithmeticError as exc:  # pragma: no cover - defensive
        raise ExpressionError(f"Invalid 'when' expression '{text}': {exc}") from exc


def evaluate_when(text: str) -> bool:
    """Evaluate a substituted ``when`` clause; an empty clause is true."""
    if text.strip() == "":
        return True
    result = _WhenParser(text).parse()
    if not isinstance(result, bool):
        raise ExpressionError(f"Expected boolean evaluation for '{text}'. Got {_go_shown(result)}")
    return result


def _go_shown(value: Value) -> str:
    """``value`` as Go's ``%v`` prints govaluate's result."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + " ".join(_go_shown(item) for item in value) + "]"
    if _is_number(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


# ------------------------------------------------------------------------------------ depends

#: The results a depends expression may test, Argo's ``TaskResults`` fields.
DEPENDS_RESULTS: Final = (
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
)

_DEPENDS_TOKEN: Final = re.compile(
    r"\s*(?:(?P<op>&&|\|\||[!()])|(?P<ref>[A-Za-z0-9_][-A-Za-z0-9_]*(?:\.[A-Za-z]+)?))"
)


@dataclass(frozen=True, slots=True)
class TaskResults:
    """What a dependency finished as, the scope a depends expression reads."""

    succeeded: bool = False
    failed: bool = False
    errored: bool = False
    skipped: bool = False
    omitted: bool = False
    daemoned: bool = False
    any_succeeded: bool = False
    all_failed: bool = False

    def get(self, result: str) -> bool:
        snake = re.sub(r"(?<!^)([A-Z])", r"_\1", result).lower()
        return bool(getattr(self, snake))


def _tokenize_depends(logic: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(logic):
        if logic[position:].strip() == "":
            break
        match = _DEPENDS_TOKEN.match(logic, position)
        if match is None:
            raise ExpressionError(f"invalid depends expression '{logic}' at position {position}")
        position = match.end()
        if match.group("op") is not None:
            tokens.append(("op", match.group("op")))
        else:
            tokens.append(("ref", match.group("ref")))
    return tokens


def _split_ref(ref: str) -> tuple[str, str | None]:
    name, _, result = ref.partition(".")
    if result and result not in DEPENDS_RESULTS:
        raise ExpressionError(
            f"unknown task result '{result}' in '{ref}' (one of {', '.join(DEPENDS_RESULTS)})"
        )
    return name, (result or None)


def depends_task_names(logic: str) -> list[str]:
    """Task names a depends expression references, in first-mention order."""
    names: list[str] = []
    for kind, text in _tokenize_depends(logic):
        if kind == "ref":
            name, _ = _split_ref(text)
            if name not in names:
                names.append(name)
    return names


def expand_dependency(name: str, continue_on_failed: bool, continue_on_error: bool) -> str:
    """What a bare task name means in depends logic (Argo's ``expandDependency``)."""
    results = [f"{name}.Succeeded", f"{name}.Skipped", f"{name}.Daemoned"]
    if continue_on_error:
        results.append(f"{name}.Errored")
    if continue_on_failed:
        results.append(f"{name}.Failed")
    return "(" + " || ".join(results) + ")"


def evaluate_depends(
    logic: str,
    results: Mapping[str, TaskResults],
    expand_bare: Callable[[str], str] | None = None,
) -> bool:
    """Evaluate depends logic over finished dependencies' results.

    ``expand_bare`` rewrites a bare task name (default: Succeeded || Skipped || Daemoned).
    """
    expand = expand_bare or (lambda name: expand_dependency(name, False, False))
    tokens = _tokenize_depends(logic)
    index = 0

    def peek() -> tuple[str, str] | None:
        return tokens[index] if index < len(tokens) else None

    def parse_or() -> bool:
        nonlocal index
        value = parse_and()
        while peek() == ("op", "||"):
            index += 1
            right = parse_and()
            value = value or right
        return value

    def parse_and() -> bool:
        nonlocal index
        value = parse_not()
        while peek() == ("op", "&&"):
            index += 1
            right = parse_not()
            value = value and right
        return value

    def parse_not() -> bool:
        nonlocal index
        token = peek()
        if token == ("op", "!"):
            index += 1
            return not parse_not()
        if token == ("op", "("):
            index += 1
            value = parse_or()
            if peek() != ("op", ")"):
                raise ExpressionError(f"unbalanced parentheses in depends '{logic}'")
            index += 1
            return value
        if token is None or token[0] != "ref":
            raise ExpressionError(f"invalid depends expression '{logic}'")
        index += 1
        name, result = _split_ref(token[1])
        if name not in results:
            raise ExpressionError(f"depends '{logic}' references unknown task '{name}'")
        if result is None:
            return evaluate_depends(expand(name), results)
        return results[name].get(result)

    value = parse_or()
    if index != len(tokens):
        raise ExpressionError(f"invalid depends expression '{logic}'")
    return value
