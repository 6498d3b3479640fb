"""Executing an Argo ``http`` template: one real HTTP request and its success condition.

Argo runs HTTP templates in its agent, not in a pod: the request is made with the template's
method, URL, headers (``value`` or ``valueFrom.secretKeyRef``) and body, within
``timeoutSeconds``; ``successCondition`` is an expr expression over ``response.statusCode``,
``response.body`` (text) and ``response.headers`` (canonical names → lists of values, as Go's
``http.Header``). Without a condition, a 2xx status succeeds. The body becomes
``outputs.result``. A request that cannot complete (refused, timed out) fails the node.

The caller (the runner) substitutes ``{{...}}`` first and wires phases into the node:

    outcome = execute_http_template(template["http"], resolve_secret=lookup)
    node phase = outcome.phase, node outputs = outcome.outputs, node message = outcome.message
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx

__all__ = [
    "ConditionError",
    "HttpOutcome",
    "SecretResolver",
    "evaluate_condition",
    "execute_http_template",
]

DEFAULT_TIMEOUT_SECONDS: Final = 30.0
_BODY_LIMIT: Final = 256 * 1024

SecretResolver = Callable[[str, str], str | None]
"""(secret name, key) → value, or None when the Secret or key does not exist."""


@dataclass(frozen=True)
class HttpOutcome:
    phase: Literal["Succeeded", "Failed", "Error"]
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class ConditionError(ValueError):
    """A success condition that cannot be parsed or evaluated."""


def execute_http_template(
    http: dict[str, Any],
    *,
    resolve_secret: SecretResolver,
    client: httpx.Client | None = None,
) -> HttpOutcome:
    """Make the request of an (already substituted) ``http`` template; never raises."""
    method = str(http.get("method") or "GET").upper()
    url = str(http.get("url") or "")
    if not url:
        return HttpOutcome("Error", message="http.url is empty")
    headers: list[tuple[str, str]] = []
    for header in http.get("headers") or []:
        name = str(header.get("name", ""))
        if "value" in header:
            headers.append((name, str(header["value"])))
            continue
        ref = ((header.get("valueFrom") or {}).get("secretKeyRef")) or {}
        value = resolve_secret(str(ref.get("name", "")), str(ref.get("key", "")))
        if value is None:
            return HttpOutcome(
                "Error",
                message=f"header {name!r}: secret '{ref.get('name')}' "
                f"has no key '{ref.get('key')}'",
            )
        headers.append((name, value))
    timeout = float(http.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
    body = http.get("body")
    owned = client is None
    session = client or httpx.Client(verify=not http.get("insecureSkipVerify"))
    try:
        response = session.request(
            method,
            url,
            headers=headers,
            content=None if body is None else str(body).encode(),
            timeout=timeout,
        )
    except httpx.TimeoutException:
        return HttpOutcome("Failed", message=f"{method} {url}: no response within {timeout:g}s")
    except httpx.HTTPError as error:
        return HttpOutcome("Failed", message=f"{method} {url}: {error}")
    finally:
        if owned:
            session.close()
    text = response.text[:_BODY_LIMIT]
    outputs: dict[str, Any] = {"result": text}
    condition = http.get("successCondition")
    if not condition:
        if 200 <= response.status_code < 300:
            return HttpOutcome("Succeeded", outputs)
        return HttpOutcome(
            "Failed", outputs, f"received non-2xx response code: {response.status_code}"
        )
    scope = {
        "response": {
            "statusCode": response.status_code,
            "body": text,
            "headers": _go_headers(response.headers),
        },
        "request": {"method": method, "url": url, "body": "" if body is None else str(body)},
    }
    try:
        succeeded = evaluate_condition(str(condition), scope)
    except ConditionError as error:
        return HttpOutcome("Error", outputs, f"successCondition {condition!r}: {error}")
    if succeeded:
        return HttpOutcome("Succeeded", outputs)
    return HttpOutcome(
        "Failed",
        outputs,
        f"successCondition {condition!r} evaluated false (status {response.status_code})",
    )


def _go_headers(headers: httpx.Headers) -> dict[str, list[str]]:
    """Go's ``http.Header``: canonical names (``Content-Type``) to lists of values."""
    out: dict[str, list[str]] = {}
    for name, value in headers.multi_items():
        canonical = "-".join(part.capitalize() for part in name.split("-"))
        out.setdefault(canonical, []).append(value)
    return out


# ---------------------------------------------------------------------------- expr subset

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<number>\d+\.\d+|\d+)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,+\-*/%])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_WORD_OPERATORS: Final = {"and": "&&", "or": "||", "not": "!"}
_INFIX_WORDS: Final = ("in", "contains", "startsWith", "endsWith", "matches")
# Binding power of binary operators (higher binds tighter), as in expr.
_BINARY: Final = {
    "||": 10,
    "&&": 15,
    "==": 20,
    "!=": 20,
    "<": 20,
    ">": 20,
    "<=": 20,
    ">=": 20,
    "in": 20,
    "contains": 25,
    "startsWith": 25,
    "endsWith": 25,
    "matches": 25,
    "+": 30,
    "-": 30,
    "*": 60,
    "/": 60,
    "%": 60,
}
_FUNCTIONS: Final[dict[str, Callable[[Any], Any]]] = {
    "len": len,
    "string": str,
    "int": int,
    "float": float,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "trim": lambda s: str(s).strip(),
}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None:
            raise ConditionError(f"unexpected text at {text[position:].strip()!r}")
        position = match.end()
        kind = match.lastgroup or ""
        value = match[kind]
        if kind == "word" and value in _WORD_OPERATORS:
            tokens.append(("op", _WORD_OPERATORS[value]))
        elif kind == "word" and value in _INFIX_WORDS:
            tokens.append(("op", value))
        else:
            tokens.append((kind, value))
    return tokens


class _Evaluator:
    """A Pratt parser that evaluates while it parses (conditions are tiny)."""

    def __init__(self, tokens: list[tuple[str, str]], scope: dict[str, Any]) -> None:
        self.tokens = tokens
        self.index = 0
        self.scope = scope

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ConditionError("the expression ends too early")
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        if self.take() != ("op", text):
            raise ConditionError(f"expected {text!r}")

    def expression(self, power: int = 0) -> Any:
        left = self.prefix()
        while (token := self.peek()) is not None and token[0] == "op":
            operator = token[1]
            if operator in (".", "["):
                left = self.member(left)
                continue
            strength = _BINARY.get(operator)
            if strength is None or strength <= power:
                break
            self.take()
            right = self.expression(strength)
            left = _apply(operator, left, right)
        return left

    def member(self, value: Any) -> Any:
        operator = self.take()[1]
        if operator == ".":
            kind, key = self.take()
            if kind != "word":
                raise ConditionError("expected a field name after '.'")
            return _lookup(value, key)
        key = self.expression()
        self.expect("]")
        return _lookup(value, key)

    def prefix(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "string":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "op" and text == "!":
            return not _truth(self.expression(50))
        if kind == "op" and text == "-":
            return -_number(self.expression(50))
        if kind == "op" and text == "(":
            value = self.expression()
            self.expect(")")
            return value
        if kind == "op" and text == "[":
            items: list[Any] = []
            while self.peek() != ("op", "]"):
                items.append(self.expression())
                if self.peek() == ("op", ","):
                    self.take()
            self.take()
            return items
        if kind == "word":
            return self.word(text)
        raise ConditionError(f"unexpected {text!r}")

    def word(self, text: str) -> Any:
        if text in ("true", "false"):
            return text == "true"
        if text == "nil":
            return None
        if self.peek() == ("op", "("):
            function = _FUNCTIONS.get(text)
            if function is None:
                raise ConditionError(f"unknown function {text!r}")
            self.take()
            argument = self.expression()
            self.expect(")")
            return function(argument)
        if text not in self.scope:
            raise ConditionError(f"unknown name {text!r}")
        return self.scope[text]


def _lookup(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list) and isinstance(key, int):
        return value[key] if -len(value) <= key < len(value) else None
    raise ConditionError(f"cannot read {key!r} of {type(value).__name__}")


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConditionError(f"expected a boolean, got {value!r}")
    return value


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConditionError(f"expected a number, got {value!r}")
    return value


def _apply(operator: str, left: Any, right: Any) -> Any:
    if operator == "&&":
        return _truth(left) and _truth(right)
    if operator == "||":
        return _truth(left) or _truth(right)
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if operator == "in":
        return left in right if isinstance(right, list | dict | str) else False
    if operator in ("contains", "startsWith", "endsWith", "matches"):
        if not isinstance(left, str) or not isinstance(right, str):
            raise ConditionError(f"'{operator}' needs text on both sides")
        if operator == "contains":
            return right in left
        if operator == "startsWith":
            return left.startswith(right)
        if operator == "endsWith":
            return left.endswith(right)
        return re.search(right, left) is not None
    if operator == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    a, b = _number(left), _number(right)
    arithmetic: dict[str, Callable[[Any, Any], Any]] = {
        "<": lambda x, y: x < y,
        ">": lambda x, y: x > y,
        "<=": lambda x, y: x <= y,
        ">=": lambda x, y: x >= y,
        "+": lambda x, y: x + y,
        "-": lambda x, y: x - y,
        "*": lambda x, y: x * y,
        "/": lambda x, y: x / y,
        "%": lambda x, y: x % y,
    }
    return arithmetic[operator](a, b)


def evaluate_condition(text: str, scope: dict[str, Any]) -> bool:
    """Evaluate an expr success condition; it must yield a boolean."""
    tokens = _tokenize(text)
    if not tokens:
        raise ConditionError("the condition is empty")
    evaluator = _Evaluator(tokens, scope)
    try:
        value = evaluator.expression()
    except (ZeroDivisionError, TypeError, re.error) as error:
        raise ConditionError(str(error)) from None
    if evaluator.peek() is not None:
        raise ConditionError(f"unexpected {evaluator.peek()[1]!r}")  # type: ignore[index]
    return _truth(value)
