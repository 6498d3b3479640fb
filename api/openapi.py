"""The spec documents' JSON schemas in the OpenAPI document.

Execution, Pipeline and Project bodies are read as plain JSON and validated by the engine (so a
mistake is answered with the engine's field path and hint), but documented with the engine's
own models: the schemas pydantic derives from ``engine.spec`` and ``engine.pipelines.model``,
their sub-schemas under ``components/schemas`` with a ``Spec`` prefix.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, WithJsonSchema

from engine.pipelines.model import Pipeline
from engine.spec import Execution, Project

if TYPE_CHECKING:  # FastAPI only where the app is built: api.schemas is read without it
    from fastapi import FastAPI

__all__ = [
    "AnyDocument",
    "ExecutionDocument",
    "PipelineDocument",
    "ProjectDocument",
    "install_spec_schemas",
]

_PREFIX = "Spec"
_DOCUMENTS: dict[str, type[BaseModel]] = {
    "Execution": Execution,
    "Pipeline": Pipeline,
    "Project": Project,
}
_KINDS = {"Execution": "Execution", "Pipeline": "Pipeline"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{_PREFIX}{name}"}


def _one(name: str) -> WithJsonSchema:
    # allOf around the reference: pydantic would try to resolve a bare one among its own.
    return WithJsonSchema({"allOf": [_ref(name)]})


ExecutionDocument = Annotated[dict[str, Any], _one("Execution")]
PipelineDocument = Annotated[dict[str, Any], _one("Pipeline")]
ProjectDocument = Annotated[dict[str, Any], _one("Project")]
AnyDocument = Annotated[
    dict[str, Any], WithJsonSchema({"anyOf": [_ref("Execution"), _ref("Pipeline")]})
]


@cache
def spec_schemas() -> dict[str, Any]:
    """``Spec<Name>`` → JSON schema, for the documents and every model they use."""
    schemas: dict[str, Any] = {}
    template = f"#/components/schemas/{_PREFIX}{{model}}"
    for name, model in _DOCUMENTS.items():
        schema = model.model_json_schema(ref_template=template)
        for sub, definition in schema.pop("$defs", {}).items():
            schemas[f"{_PREFIX}{sub}"] = definition
        if name in _KINDS:  # the document's header, which the engine reads and drops
            schema.setdefault("properties", {})["kind"] = {"const": _KINDS[name]}
            schema["properties"]["apiVersion"] = {"type": "string"}
        schemas[f"{_PREFIX}{name}"] = schema
    return schemas


def install_spec_schemas(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the spec schemas the bodies refer to."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(spec_schemas())
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
