"""Up-front check that a Workflow stays inside what the local runner supports.

Everything is checked before any node runs; the first problem raises ``SpecError`` naming the
field path (``spec.templates[3].resource``). Fields with no local meaning (images, resources,
node selectors, security contexts, pod GC, TTLs ...) are accepted and ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from engine.backends.local.scope import REPOSITORY_KINDS, repository_key
from engine.errors import SpecError

__all__ = ["validate_workflow"]

_SPEC_FIELDS: Final = frozenset(
    {
        "entrypoint",
        "templates",
        "arguments",
        "onExit",
        "hooks",
        "volumes",
        "volumeClaimTemplates",
        "volumeClaimGC",
        "parallelism",
        "activeDeadlineSeconds",
        "serviceAccountName",
        "automountServiceAccountToken",
        "podGC",
        "ttlStrategy",
        "nodeSelector",
        "affinity",
        "tolerations",
        "imagePullSecrets",
        "securityContext",
        "podSpecPatch",
        "priority",
        "podPriorityClassName",
        "artifactRepositoryRef",
        "archiveLogs",
        "metrics",
        "synchronization",
        "templateDefaults",
        "shutdown",
        "suspend",
        "workflowMetadata",
        "podMetadata",
        "dnsPolicy",
        "dnsConfig",
        "hostNetwork",
        "schedulerName",
        "podDisruptionBudget",
        "executor",
        "retryStrategy",
        "hostAliases",
        "workflowTemplateRef",
        "artifactGC",
        "executorPlugins",
        "podResources",
        "resourceClaims",
    }
)
"""Argo's WorkflowSpec fields (``io.argoproj.workflow.v1alpha1.WorkflowSpec``)."""
_DROPPED: Final = frozenset(
    {"archiveLocation", "podPriority", "labels", "podSpec", "arguments", "priority", "description"}
)
"""No fields of Argo's, yet found in its own recorded workflows (older versions' fields, or
misplaced ones): Argo's controller drops unknown fields as it decodes a workflow, and the local
runner ignores these few; any other unknown field is refused, as ``argo submit`` refuses it."""
_TEMPLATE_KINDS: Final = (
    "container",
    "script",
    "http",
    "containerSet",
    "steps",
    "dag",
    "suspend",
)
_UNSUPPORTED_KINDS: Final = ("resource", "plugin", "data")
_TEMPLATE_FIELDS: Final = frozenset(
    {
        "activeDeadlineSeconds",
        "affinity",
        "annotations",
        "archiveLocation",
        "automountServiceAccountToken",
        "container",
        "containerSet",
        "daemon",
        "dag",
        "data",
        "executor",
        "failFast",
        "hostAliases",
        "http",
        "initContainers",
        "inputs",
        "memoize",
        "metadata",
        "metrics",
        "name",
        "nodeSelector",
        "outputs",
        "parallelism",
        "pendingTimeout",
        "plugin",
        "podResources",
        "podSpecPatch",
        "priorityClassName",
        "resource",
        "resourceClaims",
        "retryStrategy",
        "schedulerName",
        "script",
        "securityContext",
        "serviceAccountName",
        "sidecars",
        "steps",
        "suspend",
        "synchronization",
        "timeout",
        "tolerations",
        "volumes",
    }
)
"""Argo's Template fields (its JSON schema, ``io.argoproj.workflow.v1alpha1.Template``)."""
_TASK_FIELDS: Final = frozenset(
    {
        "name",
        "template",
        "templateRef",
        "inline",
        "arguments",
        "dependencies",
        "depends",
        "when",
        "withItems",
        "withParam",
        "withSequence",
        "continueOn",
        "onExit",
        "hooks",
    }
)
"""Argo's DAGTask fields; a WorkflowStep has them all but ``dependencies`` and ``depends``."""
_ARTIFACT_FIELDS: Final = frozenset(
    {
        "name",
        "path",
        "from",
        "raw",
        "optional",
        "archive",
        "mode",
        "subPath",
        "globalName",
        "archiveLogs",
        "deleted",
        "fromExpression",
        "recurseMode",
        "artifactGC",
        *REPOSITORY_KINDS,
    }
)


def _fail(path: str, message: str, hint: str | None = None) -> None:
    raise SpecError(path, message, hint)


def _unknown(path: str, kind: str) -> None:
    _fail(
        path,
        f"unknown field: Argo's {kind} has no such field",
        "check its spelling and where it sits (argo submit --strict rejects it too)",
    )


def _check_enum(param: dict[str, Any], prefix: str) -> None:
    """Argo's ``validateArgumentsValues``: a value must be one of its ``enum``."""
    if "enum" not in param:
        return
    name = param.get("name", "")
    enum = param.get("enum") or []
    if not enum:
        _fail(f"{prefix}{name}.enum", "should contain at least one value")
    value = param.get("value", param.get("default"))
    if value is None:
        if "valueFrom" in param:
            return
        _fail(f"{prefix}{name}.value", "is required")
    if str(value) not in [str(v) for v in enum]:
        _fail(f"{prefix}{name}.value", f"should be present in {prefix}{name}.enum list")


def _check_artifacts(artifacts: Any, path: str) -> None:
    for index, artifact in enumerate(artifacts or []):
        for key in artifact:
            if key not in _ARTIFACT_FIELDS:
                _fail(
                    f"{path}[{index}].{key}",
                    "not supported by the local runner",
                    "artifacts live in the local store: path/from/raw, or an s3/gcs/oss/azure key",
                )
        for kind in REPOSITORY_KINDS:
            if kind in artifact and repository_key(artifact) is None:
                _fail(
                    f"{path}[{index}].{kind}",
                    "the local artifact repository needs a key (s3/gcs/oss: key, azure: blob)",
                )


def _check_hooks(hooks: Any, path: str) -> None:
    for key, hook in (hooks or {}).items():
        if key != "exit" and not (hook or {}).get("expression"):
            _fail(f"{path}.{key}.expression", "required for a lifecycle hook other than 'exit'")


def _check_tasks(tasks: Any, path: str, names: set[str], is_dag: bool) -> None:
    for index, task in enumerate(tasks or []):
        task_path = f"{path}[{index}]"
        for key in task:
            if key not in _TASK_FIELDS | _DROPPED or (
                not is_dag and key in ("dependencies", "depends")
            ):
                _unknown(f"{task_path}.{key}", "DAGTask" if is_dag else "WorkflowStep")
        if "template" in task and task["template"] not in names:
            _fail(f"{task_path}.template", f"template '{task['template']}' not found")
        _check_hooks(task.get("hooks"), f"{task_path}.hooks")
        _check_artifacts(
            (task.get("arguments") or {}).get("artifacts"), f"{task_path}.arguments.artifacts"
        )
        if "inline" in task:
            _check_template(task["inline"], f"{task_path}.inline", names)


def _check_container_set(container_set: dict[str, Any], path: str) -> None:
    containers = container_set.get("containers") or []
    if not containers:
        _fail(f"{path}.containers", "required")
    names = [c.get("name") for c in containers]
    for index, container in enumerate(containers):
        for dependency in container.get("dependencies") or []:
            if dependency not in names:
                _fail(
                    f"{path}.containers[{index}].dependencies",
                    f"container '{dependency}' not found",
                )


_RETRIES = re.compile(r"\{\{\s*retries\s*\}\}")


def _check_retries_scope(template: dict[str, Any], path: str) -> None:
    # Argo's validator puts {{retries}} in scope only for templates with a retryStrategy.
    if "retryStrategy" not in template and _RETRIES.search(json.dumps(template)):
        _fail(
            path,
            f"templates.{template.get('name')}: failed to resolve {{{{retries}}}}",
            "{{retries}} is defined only in templates with a retryStrategy",
        )


def _check_template(template: dict[str, Any], path: str, names: set[str]) -> None:
    for kind in _UNSUPPORTED_KINDS:
        if kind in template:
            _fail(f"{path}.{kind}", "not supported by the local runner")
    for key in template:
        if key not in _TEMPLATE_FIELDS | _DROPPED:
            _unknown(f"{path}.{key}", "Template")
    kinds = [k for k in _TEMPLATE_KINDS if k in template]
    if len(kinds) != 1:
        _fail(path, f"a template needs exactly one of {', '.join(_TEMPLATE_KINDS)}")
    if kinds[0] in ("steps", "dag", "suspend"):
        # Argo's validateLeaf (workflow/validate/validate.go): only a template that runs
        # something (IsLeaf) has a timeout.
        for key in ("timeout", "pendingTimeout"):
            if template.get(key) not in (None, ""):
                kind = {"steps": "Steps", "dag": "DAG", "suspend": "Suspend"}[kinds[0]]
                _fail(f"{path}.{key}", f"{kind} template doesn't support {key} field")
    _check_artifacts((template.get("inputs") or {}).get("artifacts"), f"{path}.inputs.artifacts")
    _check_artifacts((template.get("outputs") or {}).get("artifacts"), f"{path}.outputs.artifacts")
    if "initContainers" in template:
        _fail(f"{path}.initContainers", "not supported by the local runner")
    for index, sidecar in enumerate(template.get("sidecars") or []):
        if not sidecar.get("command"):
            _fail(
                f"{path}.sidecars[{index}].command",
                "required by the local runner (the host's tools run, not the image's entrypoint)",
            )
    if "sidecars" in template and not ("container" in template or "script" in template):
        _fail(f"{path}.sidecars", "only container and script templates can have sidecars")
    memoize = template.get("memoize")
    if memoize is not None:
        if not memoize.get("key"):
            _fail(f"{path}.memoize.key", "required")
        if not ((memoize.get("cache") or {}).get("configMap") or {}).get("name"):
            _fail(f"{path}.memoize.cache.configMap.name", "required")
    if "containerSet" in template:
        _check_container_set(template["containerSet"], f"{path}.containerSet")
    if "dag" in template:
        _check_tasks(template["dag"].get("tasks"), f"{path}.dag.tasks", names, is_dag=True)
    if "steps" in template:
        for group_index, group in enumerate(template["steps"] or []):
            _check_tasks(group, f"{path}.steps[{group_index}]", names, is_dag=False)


def validate_workflow(workflow: dict[str, Any]) -> None:
    """Raise ``SpecError`` for the first field the local runner cannot honour."""
    if workflow.get("kind", "Workflow") != "Workflow":
        _fail("kind", f"expected Workflow, got {workflow.get('kind')!r}")
    spec = workflow.get("spec")
    if not isinstance(spec, dict):
        _fail("spec", "missing")
        return
    for key in spec:
        if key not in _SPEC_FIELDS | _DROPPED:
            _unknown(f"spec.{key}", "WorkflowSpec")
    _check_hooks(spec.get("hooks"), "spec.hooks")
    templates = spec.get("templates") or []
    names = {t.get("name", "") for t in templates}
    if "workflowTemplateRef" not in spec:
        if not spec.get("entrypoint"):
            _fail("spec.entrypoint", "required")
        if spec.get("entrypoint") not in names:
            _fail("spec.entrypoint", f"template '{spec.get('entrypoint')}' not found")
    if spec.get("onExit") and spec["onExit"] not in names:
        _fail("spec.onExit", f"template '{spec['onExit']}' not found")
    for index, param in enumerate((spec.get("arguments") or {}).get("parameters") or []):
        if "value" not in param and "valueFrom" not in param and "default" not in param:
            _fail(f"spec.arguments.parameters[{index}].value", "required")
        _check_enum(param, "spec.arguments.")
    retried = "retryStrategy" in spec or "retryStrategy" in (spec.get("templateDefaults") or {})
    for index, template in enumerate(templates):
        _check_template(template, f"spec.templates[{index}]", names)
        if not retried:
            _check_retries_scope(template, f"spec.templates[{index}]")
