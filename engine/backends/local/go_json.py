"""JSON read as Go's ``encoding/json`` reads it, with its error messages.

Where Argo decodes text a pod produced (a loop child's result joining the aggregate, in
``processAggregateNodeOutputs``), a decoding error becomes the node's message verbatim, as Go
words it (``encoding/json/scanner.go``: "invalid character 'h' looking for beginning of
value"). Python's decoder finds the same first offending byte; this module words it as Go
does and refuses the constants Python accepts and Go does not (``NaN``, ``Infinity``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["GoJSONError", "decode"]

END = "unexpected end of JSON input"
LITERALS = ("true", "false", "null")
HEX = frozenset("0123456789abcdefABCDEF")
GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


class GoJSONError(ValueError):
    """Text Go's ``json.Unmarshal`` rejects; the message is Go's."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def decode(text: str) -> Any:
    """``text`` decoded, or GoJSONError with the message ``json.Unmarshal`` gives."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise GoJSONError(_message(text, error.msg, error.pos)) from None
    except ValueError:  # NaN, Infinity, -Infinity
        raise GoJSONError(_constant_message(text)) from None


def _quote_char(char: str) -> str:
    """``quoteChar`` in scanner.go: the byte in single quotes, escaped as ``strconv.Quote``
    (of a character beyond ASCII, Go takes the first byte of its UTF-8 encoding as a rune)."""
    if ord(char) > 0x7F:
        char = chr(char.encode("utf-8", "surrogatepass")[0])
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    quoted = json.dumps(char, ensure_ascii=False)[1:-1] if char.isprintable() else _escape(char)
    return f"'{quoted}'"


def _escape(char: str) -> str:
    if char in GO_ESCAPES:
        return GO_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x20 or code == 0x7F else f"\\u{code:04x}"


def _invalid(text: str, pos: int, context: str) -> str:
    if pos >= len(text):
        return END
    return f"invalid character {_quote_char(text[pos])} {context}"


def _message(text: str, problem: str, pos: int) -> str:
    if problem == "Expecting value":
        return _value_message(text, pos)
    if problem == "Extra data":
        return _after_number(text, pos) or _invalid(text, pos, "after top-level value")
    if problem == "Expecting ',' delimiter":
        inside = "after array element" if _innermost(text, pos) == "[" else None
        return _after_number(text, pos) or _invalid(
            text, pos, inside or "after object key:value pair"
        )
    if problem == "Expecting ':' delimiter":
        return _invalid(text, pos, "after object key")
    if problem.startswith("Expecting property name"):
        return _invalid(text, pos, "looking for beginning of object key string")
    if problem.startswith("Invalid control character"):
        return _invalid(text, pos, "in string literal")
    if problem == "Invalid \\escape":
        return _invalid(text, pos + 1, "in string escape code")
    if problem.startswith("Invalid \\uXXXX"):
        bad = next((i for i in range(pos + 1, pos + 5) if text[i : i + 1] not in HEX), pos + 5)
        return _invalid(text, bad, "in \\u hexadecimal character escape")
    return END  # an unterminated string, or any other decoder complaint at the end


def _value_message(text: str, pos: int) -> str:
    """Where a value should start: a literal or a number begun wrongly reads as Go says."""
    char = text[pos : pos + 1]
    for literal in LITERALS:
        if char == literal[0]:
            for offset, expected in enumerate(literal[1:], start=1):
                if pos + offset >= len(text):
                    return END
                if text[pos + offset] != expected:
                    context = f"in literal {literal} (expecting {_quote_char(expected)})"
                    return _invalid(text, pos + offset, context)
    if char == "-":
        return _invalid(text, pos + 1, "in numeric literal")
    return _invalid(text, pos, "looking for beginning of value")


def _after_number(text: str, pos: int) -> str | None:
    """A number cut short (``1.`` or ``1e+``), which Python reads as a number and extra data."""
    if not 0 < pos < len(text) or not text[pos - 1].isdigit() or text[pos] not in ".eE":
        return None
    rest = pos + 1
    if text[pos] == ".":
        return _invalid(text, rest, "after decimal point in numeric literal")
    if text[rest : rest + 1] in ("+", "-"):
        rest += 1
    return _invalid(text, rest, "in exponent of numeric literal")


def _outside_strings(text: str) -> Iterator[tuple[int, str]]:
    """Each character of ``text`` that is not inside a JSON string, with its index."""
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        else:
            yield index, char


def _innermost(text: str, pos: int) -> str:
    """The bracket (``[`` or ``{``) open at ``pos``."""
    stack: list[str] = []
    for _, char in _outside_strings(text[:pos]):
        if char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _constant_message(text: str) -> str:
    """``NaN`` or ``Infinity`` where Python takes a constant: the first byte Go stops at."""
    for index, char in _outside_strings(text):
        if char in "NI":
            negative = index > 0 and text[index - 1] == "-"
            context = "in numeric literal" if negative else "looking for beginning of value"
            return _invalid(text, index, context)
    return END
