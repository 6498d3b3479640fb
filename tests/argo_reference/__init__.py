"""Argo's reference data in this folder (see ``SOURCE.md``) and its validator ``validate.py``,
loaded once and used in-process.

``strict`` checks Argo's JSON schema with unknown fields rejected; ``crd`` checks as the
Kubernetes API server does with Argo's full CRDs (enums, limits, CEL rules).
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ARGO_DIR = Path(__file__).resolve().parent
ARGO_KINDS = {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}


@cache
def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("argo_validate", ARGO_DIR / "validate.py")
    assert spec and spec.loader, f"Argo's validate.py not found under {ARGO_DIR}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _strict() -> Any:
    validate = _module()
    schema = json.loads((ARGO_DIR / "schema.json").read_text())
    return validate.SchemaValidator(validate.close_objects(validate.relax(schema)))


@cache
def _crd() -> Any:
    return _module().CRDValidator(str(ARGO_DIR / "crds"))


def strict_errors(document: dict[str, Any]) -> list[str]:
    """Argo JSON-schema errors, unknown fields included; [] when valid."""
    errors = _strict().errors(document["kind"], document)
    return [_module().describe(e) for e in errors]


def crd_errors(document: dict[str, Any]) -> list[str]:
    """API-server errors with Argo's full CRDs installed; [] when valid."""
    findings = _crd().errors(document["kind"], json.loads(json.dumps(document)))
    return [_module().describe(f) for f in findings if not getattr(f, "is_note", False)]


def argo_errors(document: dict[str, Any]) -> list[str]:
    return [f"strict: {e}" for e in strict_errors(document)] + [
        f"crd: {e}" for e in crd_errors(document)
    ]
