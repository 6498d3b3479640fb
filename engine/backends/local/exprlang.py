"""expr-lang, the language of Argo's ``{{=...}}`` tags, ``valueFrom.expression``, hook and retry
expressions: a tokenizer, a Pratt parser and an evaluator over JSON-like Python values.

The environment is what Argo's ``util/expr/env.GetFuncMap`` builds: the flat variable map
(``inputs.parameters.x`` → ``"1"``) expanded into nested maps (``expand.Expand``, a parent
key dropped when a child exists), plus ``asInt``, ``asFloat``, ``jsonpath``, ``toJson`` and
``sprig`` (the usual Sprig functions). expr's own builtins (``len``, ``filter``, ``map``,
``upper``, ``split``, ``toJSON`` ...) are available everywhere. Results print as Go's ``%v``.

An unknown variable raises ``UnknownName`` (Argo leaves such a tag for a later, wider scope).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from engine.backends.local.expressions import ExpressionError

__all__ = [
    "ExprError",
    "UnknownName",
    "build_env",
    "eval_bool",
    "evaluate",
    "go_format",
    "go_json",
    "reads_absent",
]


class ExprError(ExpressionError):
    """An expression that cannot be parsed or evaluated."""


class UnknownName(ExprError):
    """The expression names a variable the environment does not (yet) hold."""


# ---------------------------------------------------------------------------- formatting


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64 (``%g``, shortest): exponent form below 1e-4 or from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digit_tuple, exp = Decimal(repr(value)).as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    exponent = len(digit_tuple) + exp - 1
    prefix = "-" if sign else ""
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    text = format(Decimal(repr(abs(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return prefix + text


def go_format(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for a JSON-like value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if value is None:
        return "<nil>"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = " ".join(f"{go_format(k)}:{go_format(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    return str(value)


def _json_numbers(value: Any) -> Any:
    """Go's encoding/json writes integral floats without a fraction (``8``, not ``8.0``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    return value


def go_json(value: Any, indent: int | None = None) -> str:
    """Go's ``json.Marshal``: sorted keys, HTML characters escaped."""
    text = json.dumps(
        _json_numbers(value),
        sort_keys=True,
        indent=indent,
        separators=(",", ":") if indent is None else (",", ": "),
        ensure_ascii=False,
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ---------------------------------------------------------------------------- environment


def build_env(flat: Mapping[str, str | None]) -> dict[str, Any]:
    """Argo's ``GetFuncMap(EnvMap(flat))``: nested variables plus the helper functions; a None
    value (an absent optional) is ``nil`` there."""
    keys = sorted(flat)
    dropped = {k for k, nxt in itertools.pairwise(keys) if nxt.startswith(k + ".")}
    env: dict[str, Any] = {}
    for key in keys:
        if key in dropped:
            continue
        parts = key.split(".")
        cursor = env
        for part in parts[:-1]:
            child = cursor.get(part)
            if not isinstance(child, dict):
                child = {}
                cursor[part] = child
            cursor = child
        if not isinstance(cursor.get(parts[-1]), dict):
            cursor[parts[-1]] = flat[key]
    env.update(_ARGO_FUNCS)
    return env


# ---------------------------------------------------------------------------- tokens

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<number>0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
      | (?P<op>\?\.|\?\?|\.\.|\*\*|==|!=|<=|>=|&&|\|\||[-+*/%^!<>?:.,()\[\]{}|\#])
      | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
    )""",
    re.VERBOSE,
)
_WORD_OPERATORS: Final = frozenset(
    {"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"}
)
_BINARY: Final = {
    "or": 10,
    "||": 10,
    "and": 15,
    "&&": 15,
    "==": 20,
    "!=": 20,
    "<": 20,
    ">": 20,
    "<=": 20,
    ">=": 20,
    "in": 20,
    "not in": 20,
    "matches": 20,
    "contains": 20,
    "startsWith": 20,
    "endsWith": 20,
    "..": 25,
    "+": 30,
    "-": 30,
    "*": 60,
    "/": 60,
    "%": 60,
    "**": 100,
    "^": 100,
    "??": 500,
}
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
_CLOSURE_BUILTINS: Final = frozenset(
    {
        "all",
        "any",
        "none",
        "one",
        "filter",
        "map",
        "count",
        "find",
        "findIndex",
        "findLast",
        "findLastIndex",
        "groupBy",
        "sortBy",
        "sum",
        "reduce",
    }
)

Token = tuple[str, Any]  # (kind, value): kind is num, str, op, name


def _unquote(raw: str) -> str:
    if raw[0] == "`":
        return raw[1:-1]
    body = raw[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            nxt = body[index + 1]
            if nxt == "u" and index + 5 < len(body) + 1:
                out.append(chr(int(body[index + 2 : index + 6], 16)))
                index += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExprError(f"unexpected token {text[position:].strip()[:1]!r} in {text!r}")
        position = match.end()
        if match.group("number") is not None:
            raw = match.group("number").replace("_", "")
            if raw.lower().startswith("0x"):
                tokens.append(("num", int(raw, 16)))
            elif any(c in raw for c in ".eE"):
                tokens.append(("num", float(raw)))
            else:
                tokens.append(("num", int(raw)))
        elif match.group("string") is not None:
            tokens.append(("str", _unquote(match.group("string"))))
        elif match.group("op") is not None:
            tokens.append(("op", match.group("op")))
        else:
            word = match.group("name")
            tokens.append(("op" if word in _WORD_OPERATORS else "name", word))
    return tokens


# ---------------------------------------------------------------------------- parser

Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self, offset: int = 0) -> Token | None:
        at = self.index + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def is_op(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "op" and token[1] in ops

    def expect(self, op: str) -> None:
        if not self.is_op(op):
            found = self.peek()
            raise ExprError(
                f"expected {op!r}, found {found[1] if found else 'end'!r} in {self.text!r}"
            )
        self.index += 1

    def parse(self) -> Node:
        if not self.tokens:
            raise ExprError("empty expression")
        node = self.expression()
        if self.index != len(self.tokens):
            raise ExprError(f"unexpected token {self.tokens[self.index][1]!r} in {self.text!r}")
        return node

    def expression(self, precedence: int = 0) -> Node:
        left = self.unary()
        while True:
            token = self.peek()
            if token is None or token[0] != "op":
                break
            op = token[1]
            if op == "not" and self.peek(1) == ("op", "in"):
                op = "not in"
            if op == "?" and precedence == 0:
                self.index += 1
                when_true = self.expression()
                self.expect(":")
                when_false = self.expression()
                left = ("ternary", left, when_true, when_false)
                continue
            if op == "|" and precedence == 0:
                self.index += 1
                name = self.peek()
                if name is None or name[0] != "name":
                    raise ExprError(f"expected a function after '|' in {self.text!r}")
                self.index += 1
                args = self.call_args(name[1]) if self.is_op("(") else []
                left = ("call", ("name", name[1]), [left, *args])
                continue
            level = _BINARY.get(op)
            if level is None or level <= precedence:
                break
            self.index += 2 if op == "not in" else 1
            right_assoc = op in ("**", "^")
            right = self.expression(level - 1 if right_assoc else level)
            left = ("binary", op, left, right)
        return left

    def unary(self) -> Node:
        if self.is_op("not", "!"):
            self.index += 1
            return ("not", self.expression(50))
        if self.is_op("-", "+"):
            op = self.peek()
            assert op is not None
            self.index += 1
            return ("neg" if op[1] == "-" else "pos", self.expression(90))
        return self.postfix(self.primary())

    def primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise ExprError(f"unexpected end of expression {self.text!r}")
        kind, value = token
        self.index += 1
        if kind == "num" or kind == "str":
            return ("lit", value)
        if kind == "name":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "nil":
                return ("lit", None)
            if self.is_op("("):
                return ("call", ("name", value), self.call_args(value))
            return ("name", value)
        if value == "(":
            node = self.expression()
            self.expect(")")
            return node
        if value == "[":
            items: list[Node] = []
            while not self.is_op("]"):
                items.append(self.expression())
                if not self.is_op("]"):
                    self.expect(",")
            self.expect("]")
            return ("array", items)
        if value == "{":
            pairs: list[tuple[Node, Node]] = []
            while not self.is_op("}"):
                key_token = self.peek()
                if key_token is not None and key_token[0] in ("name", "str", "num"):
                    self.index += 1
                    key: Node = ("lit", key_token[1])
                elif self.is_op("("):
                    key = self.expression()
                else:
                    raise ExprError(f"invalid map key in {self.text!r}")
                self.expect(":")
                pairs.append((key, self.expression()))
                if not self.is_op("}"):
                    self.expect(",")
            self.expect("}")
            return ("map", pairs)
        if value == "#":
            nxt = self.peek()
            if nxt is not None and nxt[0] == "name" and nxt[1] in ("index", "acc"):
                self.index += 1
                return ("pointer", nxt[1])
            return ("pointer", "")
        if value == ".":
            name = self.peek()
            if name is None or name[0] != "name":
                raise ExprError(f"expected a field after '.' in {self.text!r}")
            self.index += 1
            return ("member", ("pointer", ""), ("lit", name[1]), False)
        raise ExprError(f"unexpected token {value!r} in {self.text!r}")

    def call_args(self, name: str) -> list[Node]:
        self.expect("(")
        args: list[Node] = []
        while not self.is_op(")"):
            if args and name in _CLOSURE_BUILTINS:
                args.append(self.closure())
            else:
                args.append(self.expression())
            if not self.is_op(")"):
                self.expect(",")
        self.expect(")")
        return args

    def closure(self) -> Node:
        if self.is_op("{"):
            self.index += 1
            body = self.expression()
            self.expect("}")
        else:
            body = self.expression()
        return ("closure", body)

    def postfix(self, node: Node) -> Node:
        while True:
            if self.is_op(".", "?."):
                optional = self.peek() == ("op", "?.")
                self.index += 1
                name = self.peek()
                if name is None or name[0] not in ("name", "op"):
                    raise ExprError(f"expected a field name in {self.text!r}")
                self.index += 1
                if self.is_op("("):
                    node = ("method", node, name[1], self.call_args(name[1]))
                else:
                    node = ("member", node, ("lit", name[1]), optional)
            elif self.is_op("["):
                self.index += 1
                if self.is_op(":"):
                    self.index += 1
                    end = None if self.is_op("]") else self.expression()
                    self.expect("]")
                    node = ("slice", node, None, end)
                    continue
                index = self.expression()
                if self.is_op(":"):
                    self.index += 1
                    end = None if self.is_op("]") else self.expression()
                    self.expect("]")
                    node = ("slice", node, index, end)
                    continue
                self.expect("]")
                node = ("member", node, index, False)
            else:
                return node


_PARSED: dict[str, Node] = {}


def _parse(text: str) -> Node:
    node = _PARSED.get(text)
    if node is None:
        node = _Parser(text).parse()
        if len(_PARSED) < 4096:
            _PARSED[text] = node
    return node


# ---------------------------------------------------------------------------- evaluation


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "func"


def go_type_name(value: Any) -> str:
    """Go's ``%T`` of an expression's result."""
    return "<nil>" if value is None else _type_name(value)


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    if type(left) is not type(right) and not (left is None or right is None):
        return False
    return bool(left == right)


def _truth(value: Any, op: str) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"invalid operation: {op} (mismatched types {_type_name(value)} and bool)")
    return value


class _Evaluator:
    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self.pointers: list[tuple[Any, int, Any]] = []

    def eval(self, node: Node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "name":
            name = node[1]
            if name in self.env:
                return self.env[name]
            if name in _BUILTINS:
                return _BUILTINS[name]
            raise UnknownName(f"unknown name {name}")
        if kind == "member":
            target = self.eval(node[1])
            key = self.eval(node[2])
            return self.member(target, key, node[3])
        if kind == "binary":
            return self.binary(node[1], node[2], node[3])
        if kind == "not":
            return not _truth(self.eval(node[1]), "!")
        if kind == "neg":
            value = self.eval(node[1])
            if not _is_number(value):
                raise ExprError(f"invalid operation: -{_type_name(value)}")
            return -value
        if kind == "pos":
            return self.eval(node[1])
        if kind == "ternary":
            chosen = node[2] if _truth(self.eval(node[1]), "?:") else node[3]
            return self.eval(chosen)
        if kind == "array":
            return [self.eval(item) for item in node[1]]
        if kind == "map":
            return {str(self.eval(k)): self.eval(v) for k, v in node[1]}
        if kind == "call":
            return self.call(node[1], node[2])
        if kind == "method":
            target = self.eval(node[1])
            function = self.member(target, node[2], False)
            if not callable(function):
                raise ExprError(f"{node[2]} is not a function")
            return function(*[self.eval(a) for a in node[3]])
        if kind == "slice":
            target = self.eval(node[1])
            start = None if node[2] is None else self.eval(node[2])
            end = None if node[3] is None else self.eval(node[3])
            if not isinstance(target, list | str):
                raise ExprError(f"cannot slice {_type_name(target)}")
            return target[start:end]
        if kind == "pointer":
            if not self.pointers:
                raise ExprError("'#' used outside of a predicate")
            item, index, acc = self.pointers[-1]
            return {"": item, "index": index, "acc": acc}[node[1]]
        if kind == "closure":
            return self.eval(node[1])
        raise ExprError(f"cannot evaluate {kind}")  # pragma: no cover

    @staticmethod
    def member(target: Any, key: Any, optional: bool) -> Any:
        if target is None:
            if optional:
                return None
            raise ExprError(f"cannot fetch {go_format(key)} from <nil>")
        if isinstance(target, dict):
            return target.get(str(key)) if not isinstance(key, int) else target.get(key)
        if isinstance(target, list | str):
            if not _is_number(key):
                raise ExprError(f"cannot fetch {go_format(key)} from {_type_name(target)}")
            index = int(key)
            if index < 0:
                index += len(target)
            if not 0 <= index < len(target):
                raise ExprError(f"index out of range: {int(key)} (array length is {len(target)})")
            return target[index]
        raise ExprError(f"cannot fetch {go_format(key)} from {_type_name(target)}")

    def binary(self, op: str, left_node: Node, right_node: Node) -> Any:
        left = self.eval(left_node)
        if op in ("||", "or"):
            return _truth(left, op) or _truth(self.eval(right_node), op)
        if op in ("&&", "and"):
            return _truth(left, op) and _truth(self.eval(right_node), op)
        if op == "??":
            return left if left is not None else self.eval(right_node)
        right = self.eval(right_node)
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op in ("in", "not in"):
            if isinstance(right, dict):
                found = str(left) in right
            elif isinstance(right, list):
                found = any(_equal(left, item) for item in right)
            else:
                raise ExprError(f"invalid operation: in {_type_name(right)}")
            return found if op == "in" else not found
        if op in ("contains", "startsWith", "endsWith", "matches"):
            if not (isinstance(left, str) and isinstance(right, str)):
                raise ExprError(
                    f"invalid operation: {op} (mismatched types "
                    f"{_type_name(left)} and {_type_name(right)})"
                )
            if op == "contains":
                return right in left
            if op == "startsWith":
                return left.startswith(right)
            if op == "endsWith":
                return left.endswith(right)
            try:
                return re.search(right, left) is not None
            except re.error as exc:
                raise ExprError(f"invalid regexp {right!r}: {exc}") from exc
        if op in ("<", ">", "<=", ">="):
            if not (
                (_is_number(left) and _is_number(right))
                or (isinstance(left, str) and isinstance(right, str))
            ):
                raise ExprError(
                    f"invalid operation: {op} (mismatched types "
                    f"{_type_name(left)} and {_type_name(right)})"
                )
            if op == "<":
                return left < right
            if op == ">":
                return left > right
            if op == "<=":
                return left <= right
            return left >= right
        if op == "..":
            if not (isinstance(left, int) and isinstance(right, int)):
                raise ExprError("invalid operation: .. needs integers")
            return list(range(left, right + 1))
        if op == "+":
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            if isinstance(left, list) and isinstance(right, list):
                return left + right
        if not (_is_number(left) and _is_number(right)):
            raise ExprError(
                f"invalid operation: {op} (mismatched types "
                f"{_type_name(left)} and {_type_name(right)})"
            )
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            if right == 0:
                return math.inf if left > 0 else (-math.inf if left < 0 else math.nan)
            return float(left) / float(right)
        if op == "%":
            if not (isinstance(left, int) and isinstance(right, int)):
                raise ExprError("invalid operation: % needs integers")
            if right == 0:
                raise ExprError("integer divide by zero")
            return int(math.fmod(left, right))
        return float(left) ** float(right)  # ** and ^

    def call(self, callee: Node, args: list[Node]) -> Any:
        if callee[0] == "name" and callee[1] not in self.env and callee[1] in _CLOSURE_BUILTINS:
            return self.closure_builtin(callee[1], args)
        function = self.eval(callee)
        if not callable(function):
            raise ExprError(f"{go_format(callee[1])} is not a function")
        values = [self.eval(a) for a in args]
        try:
            return function(*values)
        except ExprError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ExprError(f"{callee[1]}: {exc}") from exc

    def closure_builtin(self, name: str, args: list[Node]) -> Any:
        if not args:
            raise ExprError(f"{name}: not enough arguments")
        collection = self.eval(args[0])
        if isinstance(collection, dict):
            collection = list(collection.values())
        if not isinstance(collection, list):
            raise ExprError(f"{name}: cannot iterate over {_type_name(collection)}")
        if name == "sum" and len(args) == 1:
            return _sum(collection)
        if len(args) < 2:
            raise ExprError(f"{name}: needs a predicate")
        predicate = args[1]

        def apply(item: Any, index: int, acc: Any = None) -> Any:
            self.pointers.append((item, index, acc))
            try:
                return self.eval(predicate)
            finally:
                self.pointers.pop()

        if name == "all":
            return all(_truth(apply(x, i), name) for i, x in enumerate(collection))
        if name == "any":
            return any(_truth(apply(x, i), name) for i, x in enumerate(collection))
        if name == "none":
            return not any(_truth(apply(x, i), name) for i, x in enumerate(collection))
        if name == "one":
            return sum(1 for i, x in enumerate(collection) if _truth(apply(x, i), name)) == 1
        if name == "filter":
            return [x for i, x in enumerate(collection) if _truth(apply(x, i), name)]
        if name == "map":
            return [apply(x, i) for i, x in enumerate(collection)]
        if name == "count":
            return sum(1 for i, x in enumerate(collection) if _truth(apply(x, i), name))
        if name == "sum":
            return _sum([apply(x, i) for i, x in enumerate(collection)])
        if name in ("find", "findIndex"):
            for i, x in enumerate(collection):
                if _truth(apply(x, i), name):
                    return x if name == "find" else i
            return None if name == "find" else -1
        if name in ("findLast", "findLastIndex"):
            for i in range(len(collection) - 1, -1, -1):
                if _truth(apply(collection[i], i), name):
                    return collection[i] if name == "findLast" else i
            return None if name == "findLast" else -1
        if name == "groupBy":
            groups: dict[str, list[Any]] = {}
            for i, x in enumerate(collection):
                groups.setdefault(go_format(apply(x, i)), []).append(x)
            return groups
        if name == "sortBy":
            descending = len(args) > 2 and self.eval(args[2]) == "desc"
            keyed = [(apply(x, i), x) for i, x in enumerate(collection)]
            keyed.sort(key=lambda pair: pair[0], reverse=descending)
            return [x for _, x in keyed]
        if name == "reduce":
            acc = self.eval(args[2]) if len(args) > 2 else None
            for i, x in enumerate(collection):
                acc = x if acc is None and len(args) <= 2 and i == 0 else apply(x, i, acc)
            return acc
        raise ExprError(f"unknown builtin {name}")  # pragma: no cover


def evaluate(expression: str, env: Mapping[str, Any]) -> Any:
    """Evaluate ``expression`` against ``env``; raises ``ExprError`` / ``UnknownName``."""
    try:
        return _Evaluator(env).eval(_parse(expression))
    except ExprError:
        raise
    except RecursionError as exc:  # pragma: no cover - absurdly nested input
        raise ExprError("expression too deeply nested") from exc
    except (
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
        ArithmeticError,
        re.error,
        UnicodeError,
    ) as exc:  # a helper given arguments it cannot take: the expression fails, cleanly
        raise ExprError(f"failed to evaluate expression {expression!r}: {exc}") from exc


def _member_path(node: Node) -> str | None:
    """``a.b.c`` for a name or a chain of constant member accesses on one, else None."""
    if node[0] == "name":
        return str(node[1])
    if node[0] == "member" and node[2][0] == "lit" and isinstance(node[2][1], str):
        base = _member_path(node[1])
        return None if base is None else f"{base}.{node[2][1]}"
    return None


def _collect_paths(node: Any, found: list[str]) -> None:
    if isinstance(node, tuple) and node and isinstance(node[0], str):
        path = _member_path(node)
        if path is not None:
            found.append(path)
    if isinstance(node, tuple | list):
        for part in node:
            _collect_paths(part, found)


def reads_absent(expression: str, flat: Mapping[str, str | None]) -> bool:
    """Whether ``expression`` reads a variable whose value in ``flat`` is an absent optional
    (None): one of the member paths Argo's ``getIdentifiers`` lists
    (util/template/expression_template.go), e.g. ``tasks.A.outputs.parameters.x``."""
    try:
        tree = _parse(expression)
    except ExprError:
        return False
    found: list[str] = []
    _collect_paths(tree, found)
    return any(path in flat and flat[path] is None for path in found)


def eval_bool(expression: str, env: Mapping[str, Any]) -> bool:
    """Argo's ``argoexpr.EvalBool``: the result must be a boolean."""
    result = evaluate(expression, env)
    if not isinstance(result, bool):
        raise ExprError(f"unable to cast expression result {go_format(result)!r} to bool")
    return result


# ---------------------------------------------------------------------------- builtins


def _sum(values: list[Any]) -> Any:
    total: Any = 0
    for value in values:
        if not _is_number(value):
            raise ExprError(f"sum: invalid argument {go_format(value)}")
        total += value
    return total


def _to_int(value: Any) -> int:
    """expr's ``int``: numbers truncate, strings must be integers."""
    if isinstance(value, bool):
        raise ExprError(f"invalid operation: int({_type_name(value)})")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ExprError(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    raise ExprError(f"invalid operation: int({_type_name(value)})")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ExprError(f"invalid operation: float({_type_name(value)})")
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ExprError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    raise ExprError(f"invalid operation: float({_type_name(value)})")


def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise ExprError(f"invalid argument for len (type {_type_name(value)})")


def _from_json(text: Any) -> Any:
    try:
        return json.loads(str(text))
    except json.JSONDecodeError as exc:
        raise ExprError(f"fromJSON: {exc}") from exc


def _jsonpath(document: Any, path: str) -> Any:
    """The subset of JSONPath Argo's examples use: ``$.a.b``, ``$.a[0]``, ``$['a']``, ``[*]``."""
    if isinstance(document, str):
        document = _from_json(document)
    steps = re.findall(r"\.\.|\.([A-Za-z0-9_\-$]+)|\[(\*|-?\d+|'[^']*'|\"[^\"]*\")\]|\.(\*)", path)
    if not path.startswith("$"):
        raise ExprError(f"jsonpath: invalid path {path!r}")
    current: list[Any] = [document]
    wildcard = False
    for field, bracket, star in steps:
        key = field or bracket or star
        if not key:
            raise ExprError("jsonpath: '..' is not supported by the local runner")
        following: list[Any] = []
        for value in current:
            if key == "*":
                wildcard = True
                following.extend(value if isinstance(value, list) else list(value.values()))
            elif key[0] in "'\"":
                if isinstance(value, dict) and key[1:-1] in value:
                    following.append(value[key[1:-1]])
            elif re.fullmatch(r"-?\d+", key) and isinstance(value, list):
                index = int(key)
                if -len(value) <= index < len(value):
                    following.append(value[index])
            elif isinstance(value, dict) and key in value:
                following.append(value[key])
        current = following
    if wildcard:
        return current
    if not current:
        raise ExprError(f"jsonpath: {path} not found")
    return current[0]


def _split(text: str, sep: str, count: int = -1) -> list[str]:
    return text.split(sep, count - 1) if count > 0 else text.split(sep)


def _replace(text: str, old: str, new: str, count: int = -1) -> str:
    return text.replace(old, new, count)


_BUILTINS: Final[dict[str, Callable[..., Any]]] = {
    "len": _length,
    "abs": lambda x: abs(x),
    "int": _to_int,
    "float": _to_float,
    "string": go_format,
    "trim": lambda s, chars=None: s.strip(chars),
    "trimPrefix": lambda s, p=" ": s.removeprefix(p),
    "trimSuffix": lambda s, p=" ": s.removesuffix(p),
    "upper": lambda s: s.upper(),
    "lower": lambda s: s.lower(),
    "split": _split,
    "splitAfter": lambda s, sep: [p + sep for p in s.split(sep)[:-1]] + [s.split(sep)[-1]],
    "replace": _replace,
    "repeat": lambda s, n: s * n,
    "indexOf": lambda s, sub: s.find(sub),
    "lastIndexOf": lambda s, sub: s.rfind(sub),
    "hasPrefix": lambda s, p: s.startswith(p),
    "hasSuffix": lambda s, p: s.endswith(p),
    "join": lambda items, sep="": sep.join(go_format(i) for i in items),
    "max": lambda *xs: max(xs[0] if len(xs) == 1 and isinstance(xs[0], list) else xs),
    "min": lambda *xs: min(xs[0] if len(xs) == 1 and isinstance(xs[0], list) else xs),
    "mean": lambda xs: float(sum(xs)) / len(xs) if xs else 0.0,
    "ceil": lambda x: float(math.ceil(x)),
    "floor": lambda x: float(math.floor(x)),
    "round": lambda x: float(math.floor(x + 0.5)) if x >= 0 else -float(math.floor(-x + 0.5)),
    "keys": lambda m: list(m.keys()),
    "values": lambda m: list(m.values()),
    "first": lambda xs: xs[0] if xs else None,
    "last": lambda xs: xs[-1] if xs else None,
    "get": lambda c, k: (
        _Evaluator.member(c, k, True)
        if not isinstance(c, list)
        else (c[k] if -len(c) <= k < len(c) else None)
    ),
    "toJSON": lambda v: go_json(v, indent=2),
    "fromJSON": _from_json,
    "toBase64": lambda s: base64.b64encode(s.encode()).decode(),
    "fromBase64": lambda s: base64.b64decode(s).decode(),
    "type": lambda v: {"[]interface {}": "array", "map[string]interface {}": "map"}.get(
        _type_name(v), _type_name(v)
    ),
    "reverse": lambda xs: list(reversed(xs)),
    "sort": lambda xs, order="asc": sorted(xs, reverse=order == "desc"),
    "uniq": lambda xs: [x for i, x in enumerate(xs) if x not in xs[:i]],
    "flatten": lambda xs: [y for x in xs for y in (x if isinstance(x, list) else [x])],
    "concat": lambda *xss: [y for xs in xss for y in xs],
    "toPairs": lambda m: [[k, v] for k, v in sorted(m.items())],
    "fromPairs": lambda ps: {str(k): v for k, v in ps},
}


# ---------------------------------------------------------------------------- sprig


def _cast_int(value: Any) -> int:
    """spf13/cast ``ToInt``: 0 when the value does not convert."""
    if isinstance(value, bool):
        return int(value)
    if _is_number(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return 0
    return 0


def _cast_float(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return 0.0
    return 0.0


def _sprig_empty(value: Any) -> bool:
    return value in (None, "", 0, 0.0, False) or (isinstance(value, list | dict) and not value)


def _sprig_split(sep: str, text: str) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(text.split(sep))}


def _sprig_substr(start: int, end: int, text: str) -> str:
    if start < 0:
        return text[:end]
    if end < 0 or end > len(text):
        return text[start:]
    return text[start:end]


def _sprig_trunc(count: int, text: str) -> str:
    if count < 0:
        return text[max(len(text) + count, 0) :]
    return text[:count]


def _sprig_indent(spaces: int, text: str) -> str:
    pad = " " * spaces
    return pad + text.replace("\n", "\n" + pad)


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", text)


def _sprig_until_step(start: int, stop: int, step: int) -> list[int]:
    return list(range(start, stop, step)) if step else []


def _sprig_seq(*args: Any) -> str:
    ints = [_cast_int(a) for a in args]
    if len(ints) == 1:
        numbers = list(range(1, ints[0] + 1)) if ints[0] >= 1 else list(range(1, ints[0] - 1, -1))
    elif len(ints) == 2:
        step = 1 if ints[1] >= ints[0] else -1
        numbers = list(range(ints[0], ints[1] + step, step))
    else:
        numbers = list(range(ints[0], ints[2] + (1 if ints[1] > 0 else -1), ints[1]))
    return " ".join(str(n) for n in numbers)


def _sprig_dict(*pairs: Any) -> dict[str, Any]:
    return {go_format(pairs[i]): pairs[i + 1] for i in range(0, len(pairs) - 1, 2)}


def _sprig_default(default: Any, *given: Any) -> Any:
    if not given or _sprig_empty(given[0]):
        return default
    return given[0]


def _sprig_ternary(when_true: Any, when_false: Any, condition: Any) -> Any:
    return when_true if condition else when_false


_SPRIG: Final[dict[str, Callable[..., Any]]] = {
    "upper": lambda s: go_format(s).upper(),
    "lower": lambda s: go_format(s).lower(),
    "title": lambda s: " ".join(w[:1].upper() + w[1:] for w in go_format(s).split(" ")),
    "untitle": lambda s: " ".join(w[:1].lower() + w[1:] for w in go_format(s).split(" ")),
    "trim": lambda s: go_format(s).strip(),
    "trimAll": lambda cut, s: go_format(s).strip(cut),
    "trimPrefix": lambda prefix, s: go_format(s).removeprefix(prefix),
    "trimSuffix": lambda suffix, s: go_format(s).removesuffix(suffix),
    "nospace": lambda s: re.sub(r"\s", "", go_format(s)),
    "replace": lambda old, new, s: go_format(s).replace(old, new),
    "repeat": lambda n, s: go_format(s) * _cast_int(n),
    "substr": lambda a, b, s: _sprig_substr(_cast_int(a), _cast_int(b), go_format(s)),
    "trunc": lambda n, s: _sprig_trunc(_cast_int(n), go_format(s)),
    "contains": lambda sub, s: sub in go_format(s),
    "hasPrefix": lambda p, s: go_format(s).startswith(p),
    "hasSuffix": lambda p, s: go_format(s).endswith(p),
    "quote": lambda *xs: " ".join(json.dumps(go_format(x)) for x in xs if x is not None),
    "squote": lambda *xs: " ".join(f"'{go_format(x)}'" for x in xs if x is not None),
    "cat": lambda *xs: " ".join(go_format(x) for x in xs if x is not None),
    "indent": lambda n, s: _sprig_indent(_cast_int(n), go_format(s)),
    "nindent": lambda n, s: "\n" + _sprig_indent(_cast_int(n), go_format(s)),
    "snakecase": lambda s: "_".join(w.lower() for w in _words(go_format(s))),
    "kebabcase": lambda s: "-".join(w.lower() for w in _words(go_format(s))),
    "camelcase": lambda s: "".join(w[:1].upper() + w[1:] for w in re.split(r"[_\-\s]+", s)),
    "split": _sprig_split,
    "splitList": lambda sep, s: go_format(s).split(sep),
    "splitn": lambda sep, n, s: {
        f"_{i}": p for i, p in enumerate(go_format(s).split(sep, _cast_int(n) - 1))
    },
    "join": lambda sep, items: sep.join(go_format(i) for i in (items or [])),
    "toString": go_format,
    "toStrings": lambda xs: [go_format(x) for x in xs],
    "int": _cast_int,
    "int64": _cast_int,
    "atoi": _cast_int,
    "float64": _cast_float,
    "add": lambda *xs: sum(_cast_int(x) for x in xs),
    "add1": lambda x: _cast_int(x) + 1,
    "sub": lambda a, b: _cast_int(a) - _cast_int(b),
    "mul": lambda *xs: math.prod(_cast_int(x) for x in xs),
    "div": lambda a, b: int(_cast_int(a) / _cast_int(b)),
    "mod": lambda a, b: int(math.fmod(_cast_int(a), _cast_int(b))),
    "max": lambda *xs: max(_cast_int(x) for x in xs),
    "min": lambda *xs: min(_cast_int(x) for x in xs),
    "addf": lambda *xs: sum(_cast_float(x) for x in xs),
    "subf": lambda a, *xs: _cast_float(a) - sum(_cast_float(x) for x in xs),
    "mulf": lambda *xs: math.prod(_cast_float(x) for x in xs),
    "divf": lambda a, b: _cast_float(a) / _cast_float(b),
    "floor": lambda x: float(math.floor(_cast_float(x))),
    "ceil": lambda x: float(math.ceil(_cast_float(x))),
    "round": lambda x, places=0: round(_cast_float(x), _cast_int(places)),
    "default": _sprig_default,
    "empty": _sprig_empty,
    "coalesce": lambda *xs: next((x for x in xs if not _sprig_empty(x)), None),
    "ternary": _sprig_ternary,
    "list": lambda *xs: list(xs),
    "dict": _sprig_dict,
    "get": lambda d, k: d.get(k, ""),
    "set": lambda d, k, v: {**d, k: v},
    "unset": lambda d, k: {a: b for a, b in d.items() if a != k},
    "hasKey": lambda d, k: k in d,
    "keys": lambda *ds: [k for d in ds for k in d],
    "values": lambda d: list(d.values()),
    "pluck": lambda k, *ds: [d[k] for d in ds if k in d],
    "first": lambda xs: xs[0] if xs else None,
    "last": lambda xs: xs[-1] if xs else None,
    "rest": lambda xs: xs[1:],
    "initial": lambda xs: xs[:-1],
    "append": lambda xs, v: [*xs, v],
    "prepend": lambda xs, v: [v, *xs],
    "concat": lambda *xss: [y for xs in xss for y in xs],
    "reverse": lambda xs: list(reversed(xs)),
    "uniq": lambda xs: [x for i, x in enumerate(xs) if x not in xs[:i]],
    "has": lambda needle, xs: needle in (xs or []),
    "without": lambda xs, *drop: [x for x in xs if x not in drop],
    "compact": lambda xs: [x for x in xs if not _sprig_empty(x)],
    "sortAlpha": lambda xs: sorted(go_format(x) for x in xs),
    "until": lambda n: list(range(_cast_int(n))),
    "untilStep": lambda a, b, c: _sprig_until_step(_cast_int(a), _cast_int(b), _cast_int(c)),
    "seq": _sprig_seq,
    "b64enc": lambda s: base64.b64encode(go_format(s).encode()).decode(),
    "b64dec": lambda s: base64.b64decode(go_format(s)).decode(errors="replace"),
    "sha1sum": lambda s: hashlib.sha1(go_format(s).encode()).hexdigest(),
    "sha256sum": lambda s: hashlib.sha256(go_format(s).encode()).hexdigest(),
    "toJson": lambda v: go_json(v),
    "toRawJson": lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")),
    "toPrettyJson": lambda v: go_json(v, indent=2),
    "fromJson": lambda s: json.loads(go_format(s)),
    "regexMatch": lambda rx, s: re.search(rx, go_format(s)) is not None,
    "regexFind": lambda rx, s: m.group(0) if (m := re.search(rx, go_format(s))) else "",
    "regexFindAll": lambda rx, s, n=-1: [m.group(0) for m in re.finditer(rx, go_format(s))][
        : None if _cast_int(n) < 0 else _cast_int(n)
    ],
    "regexReplaceAll": lambda rx, s, repl: re.sub(
        rx, re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl), go_format(s)
    ),
    "regexReplaceAllLiteral": lambda rx, s, repl: re.sub(rx, lambda _: repl, go_format(s)),
    "regexSplit": lambda rx, s, n=-1: re.split(rx, go_format(s), maxsplit=max(_cast_int(n) - 1, 0)),
    "typeOf": _type_name,
    "kindIs": lambda kind, v: (
        {"string": str, "map": dict, "slice": list, "bool": bool}.get(kind, type(None)) is type(v)
    ),
    "deepEqual": lambda a, b: a == b,
}


def _argo_to_json(value: Any) -> str:
    return go_json(value)


_ARGO_FUNCS: Final[dict[str, Any]] = {
    "asInt": _to_int,
    "asFloat": _to_float,
    "jsonpath": _jsonpath,
    "toJson": _argo_to_json,
    "sprig": _SPRIG,
}
