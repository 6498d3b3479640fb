"""Argo's REST contract from ``tests/argo_reference/swagger.json``, enforced on incoming requests.

Unknown paths and methods → 404; query names the operation does not declare, or values of
the wrong type → 400; a body that does not validate against the operation's body definition
(with every object closed against unknown fields, as ``validate.py --strict`` does) → 400.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from tests.argo_reference import ARGO_DIR, _module


class ContractViolation(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    parameters: tuple[dict[str, Any], ...]

    def query_parameters(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.parameters if p["in"] == "query"}

    def body_ref(self) -> str | None:
        for parameter in self.parameters:
            if parameter["in"] == "body":
                return str(parameter["schema"]["$ref"])
        return None


_INT = re.compile(r"^-?\d+$")


class SwaggerContract:
    def __init__(self) -> None:
        validate = _module()
        swagger = json.loads((ARGO_DIR / "swagger.json").read_text())
        self.schema = validate.close_objects(validate.relax(swagger))
        self.routes: list[tuple[re.Pattern[str], int, Operation]] = []
        for template, operations in swagger["paths"].items():
            pattern = re.compile(
                "^" + re.sub(r"\\\{[^/]+?\\\}", "([^/]+)", re.escape(template)) + "$"
            )
            literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
            for method, op in operations.items():
                if method == "parameters":
                    continue
                operation = Operation(
                    method.upper(), template, op["operationId"], tuple(op.get("parameters", []))
                )
                self.routes.append((pattern, literal, operation))
        self.routes.sort(key=lambda r: -r[1])

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        path_known = False
        for pattern, _, operation in self.routes:
            found = pattern.match(path)
            if not found:
                continue
            path_known = True
            if operation.method != method:
                continue
            names = re.findall(r"\{([^/]+?)\}", operation.template)
            return operation, dict(zip(names, found.groups(), strict=True))
        raise ContractViolation(
            404, f"{method} {path}: " + ("method not declared" if path_known else "no such path")
        )

    def check_query(self, operation: Operation, query: dict[str, list[str]]) -> None:
        declared = operation.query_parameters()
        for name, values in query.items():
            parameter = declared.get(name)
            if parameter is None:
                raise ContractViolation(400, f"{operation.operation_id}: unknown query {name!r}")
            if parameter.get("type") != "array" and len(values) > 1:
                raise ContractViolation(400, f"{operation.operation_id}: {name} repeated")
            for value in values:
                self._check_value(operation, parameter, value)

    @staticmethod
    def _check_value(operation: Operation, parameter: dict[str, Any], value: str) -> None:
        kind, fmt = parameter.get("type"), parameter.get("format")
        bad = (
            (kind == "boolean" and value not in ("true", "false"))
            or (kind == "integer" and not _INT.match(value))
            or (fmt in ("int64", "int32") and not _INT.match(value))
        )
        if bad:
            raise ContractViolation(
                400, f"{operation.operation_id}: {parameter['name']}={value!r} is not {fmt or kind}"
            )

    def check_body(self, operation: Operation, body: bytes) -> Any:
        ref = operation.body_ref()
        if ref is None:
            if body.strip():
                raise ContractViolation(400, f"{operation.operation_id} takes no body")
            return None
        try:
            payload = json.loads(body or b"null")
        except ValueError as error:
            raise ContractViolation(400, f"body is not JSON: {error}") from error
        errors = sorted(
            _validator(ref).iter_errors(payload), key=lambda e: list(map(str, e.absolute_path))
        )
        if errors:
            where = "".join(f"[{p!r}]" for p in errors[0].absolute_path)
            raise ContractViolation(
                400,
                f"{operation.operation_id}: body{where}: {errors[0].message[:300]} "
                f"({len(errors)} error(s))",
            )
        return payload

    def check(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[Operation, dict[str, str], Any]:
        operation, params = self.match(method, path)
        self.check_query(operation, query)
        payload = self.check_body(operation, body)
        return operation, params, payload


@cache
def contract() -> SwaggerContract:
    return SwaggerContract()


@cache
def _validator(ref: str) -> Any:
    schema = contract().schema
    root = {"definitions": schema["definitions"], "$ref": ref}
    return jsonschema.Draft4Validator(root)
