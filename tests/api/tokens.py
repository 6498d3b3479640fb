"""Worker tokens as tests read them: from the Secret a compiled workflow's agents name
(``DROVER_TOKEN`` comes from ``secretKeyRef``, never a literal value)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.backends.local import LocalBackend

__all__ = ["kube_worker_token", "local_worker_token", "secret_value", "token_ref"]


def token_ref(document: dict[str, Any]) -> dict[str, str]:
    """The ``secretKeyRef`` of DROVER_TOKEN in a Workflow's (or CronWorkflow's) worker."""
    spec = document["spec"].get("workflowSpec") or document["spec"]
    for template in spec["templates"]:
        for env in (template.get("container") or {}).get("env") or []:
            if env["name"] == "DROVER_TOKEN":
                assert "value" not in env, "the worker token must not be a literal value"
                ref: dict[str, str] = env["valueFrom"]["secretKeyRef"]
                return ref
    raise AssertionError("no agent container carries DROVER_TOKEN")


def secret_value(secret: dict[str, Any], key: str) -> str:
    if key in (secret.get("stringData") or {}):
        return str(secret["stringData"][key])
    return base64.b64decode(secret["data"][key]).decode()


def local_worker_token(document: dict[str, Any], home: Path) -> str:
    """The token a local run's workers get (the local backend stores the run's Secret)."""
    ref = token_ref(document)
    value = LocalBackend(home).store.lookup_key("Secret", ref["name"], ref["key"])
    assert value, f"Secret {ref['name']} not stored by the local backend"
    return value


def kube_worker_token(
    document: dict[str, Any], find: Callable[[str], dict[str, Any] | None]
) -> str:
    """The token from a Secret stored in (fake) Kubernetes; ``find(name)`` returns it."""
    ref = token_ref(document)
    secret = find(ref["name"])
    assert secret is not None, f"Secret {ref['name']} was not created"
    return secret_value(secret, ref["key"])
