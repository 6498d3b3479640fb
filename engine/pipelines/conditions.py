"""A job's ``when``: a small condition language compiled to an Argo ``when`` expression.

Syntax (references without ``${}``)::

    jobs.check.condition                      what the job passed to set_condition
    !jobs.check.condition
    jobs.check.outputs.status == 'ok'         == != < > <= >= against a string or a number
    jobs.probe.result != 'down' && params.env == "prod"
    (a || b) && !c

A reference standing alone is true when its value is ``true``. Argo substitutes the values
as text before it evaluates (govaluate), so the compiled form quotes a value compared with
a string (``'{{tasks.check.outputs.parameters.status}}' == 'ok'``) and leaves it bare when
compared with a number or a boolean. A value containing a quote cannot be compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from engine.pipelines.references import REFERENCE_BODY, Reference, parse_reference

__all__ = ["CompiledCondition", "compile_condition"]

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
      | (?P<string>'[^'\\]*'|"[^"\\]*")
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()])
      | (?P<word>[A-Za-z_][-A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_COMPARISONS: Final = ("==", "!=", "<", ">", "<=", ">=")


@dataclass(frozen=True)
class CompiledCondition:
    argo: str
    """The Argo ``when`` text (task-scope ``{{...}}`` variables)."""
    references: list[Reference] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, string, op, ref, bool
    text: str
    reference: Reference | None = None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read the condition at {text[position:].strip()!r}")
        position = match.end()
        kind = match.lastgroup or ""
        value = match[kind]
        if kind == "word":
            if value in ("true", "false"):
                tokens.append(_Token("bool", value))
                continue
            reference = parse_reference(value)
            if reference is None:
                hint = "" if REFERENCE_BODY.match(value) else "; quote text, e.g. 'ok'"
                raise ValueError(
                    f"{value!r} is not a reference (jobs.JOB.condition, jobs.JOB.outputs.NAME, "
                    f"jobs.JOB.result or params.NAME){hint}"
                )
            tokens.append(_Token("ref", value, reference))
        else:
            tokens.append(_Token(kind, value))
    if not tokens:
        raise ValueError("the condition is empty")
    return tokens


class _Compiler:
    """Recursive descent over the tokens, emitting govaluate text as it goes."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.references: list[Reference] = []

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise ValueError("the condition ends too early")
        self.index += 1
        return token

    def compile(self) -> str:
        text = self.disjunction()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.take().text!r}")
        return text

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while (token := self.peek()) is not None and token.text == "||":
            self.take()
            parts.append(self.conjunction())
        return " || ".join(parts)

    def conjunction(self) -> str:
        parts = [self.unary()]
        while (token := self.peek()) is not None and token.text == "&&":
            self.take()
            parts.append(self.unary())
        return " && ".join(parts)

    def unary(self) -> str:
        token = self.peek()
        if token is not None and token.kind == "op" and token.text == "!":
            self.take()
            operand = self.unary()
            return f"!{operand}" if operand.startswith("(") else f"!({operand})"
        if token is not None and token.kind == "op" and token.text == "(":
            self.take()
            inner = self.disjunction()
            closing = self.peek()
            if closing is None or closing.text != ")":
                raise ValueError("a '(' is not closed")
            self.take()
            return f"({inner})"
        return self.comparison()

    def comparison(self) -> str:
        left = self.operand()
        token = self.peek()
        if token is None or token.text not in _COMPARISONS:
            if left.kind == "ref":
                return f"{self.value(left, bare=True)} == true"
            if left.kind == "bool":
                return left.text
            raise ValueError(f"{left.text} alone is not a condition; compare it with something")
        operator = self.take().text
        right = self.operand()
        bare = "number" in (left.kind, right.kind) or "bool" in (left.kind, right.kind)
        if operator not in ("==", "!=") and "number" not in (left.kind, right.kind):
            raise ValueError(f"'{operator}' compares numbers; one side must be a number")
        return f"{self.value(left, bare)} {operator} {self.value(right, bare)}"

    def operand(self) -> _Token:
        token = self.take()
        if token.kind not in ("ref", "string", "number", "bool"):
            raise ValueError(f"expected a reference or a value, got {token.text!r}")
        return token

    def value(self, token: _Token, bare: bool) -> str:
        if token.reference is None:
            return token.text
        if token.reference not in self.references:
            self.references.append(token.reference)
        variable = "{{" + token.reference.argo() + "}}"
        return variable if bare else f"'{variable}'"


def compile_condition(text: str) -> CompiledCondition:
    """Parse a ``when`` and return its Argo form; ValueError explains what is wrong."""
    compiler = _Compiler(_tokenize(text))
    argo = compiler.compile()
    return CompiledCondition(argo=argo, references=compiler.references)
