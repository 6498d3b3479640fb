"""Up-front check that a Workflow stays inside what the local runner supports.

Everything is checked before any node runs; the first problem raises ``SpecError`` naming the
field path (``spec.templates[3].resource``). Fields with no local meaning (images, resources,
node selectors, security contexts, pod GC, TTLs ...) are accepted and ignored.
"""

from __future__ import annotations

from typing import Any, Final

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
        "podPriority",
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
        "archiveLocation",
    }
)
_TEMPLATE_KINDS: Final = ("container", "script", "http", "steps", "dag", "suspend")
_UNSUPPORTED_KINDS: Final = ("resource", "plugin", "data", "containerSet")
_TEMPLATE_FIELDS: Final = frozenset(
    {
        "name",
        "inputs",
        "outputs",
        *_TEMPLATE_KINDS,
        "retryStrategy",
        "activeDeadlineSeconds",
        "timeout",
        "parallelism",
        "failFast",
        "volumes",
        "metadata",
        "nodeSelector",
        "affinity",
        "tolerations",
        "podSpecPatch",
        "securityContext",
        "serviceAccountName",
        "automountServiceAccountToken",
        "priorityClassName",
        "priority",
        "schedulerName",
        "hostAliases",
        "archiveLocation",
        "metrics",
        "executor",
        "synchronization",
        "annotations",
        "labels",
        "podSpec",
        "arguments",
    }
)
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
        "description",
    }
)
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
    }
)


def _fail(path: str, message: str, hint: str | None = None) -> None:
    raise SpecError(path, message, hint)


def _check_expressions(value: Any, path: str) -> None:
    if isinstance(value, str):
        if "{{=" in value:
            _fail(path, "expression tags '{{=...}}' are not supported by the local runner")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_expressions(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_expressions(item, f"{path}.{key}")


def _check_artifacts(artifacts: Any, path: str) -> None:
    for index, artifact in enumerate(artifacts or []):
        for key in artifact:
            if key not in _ARTIFACT_FIELDS:
                _fail(
                    f"{path}[{index}].{key}",
                    "not supported by the local runner",
                    "artifacts live in the local store; use path/from/raw",
                )


def _check_hooks(hooks: Any, path: str) -> None:
    for key in hooks or {}:
        if key != "exit":
            _fail(
                f"{path}.{key}", "only the 'exit' lifecycle hook is supported by the local runner"
            )


def _check_tasks(tasks: Any, path: str, names: set[str], is_dag: bool) -> None:
    for index, task in enumerate(tasks or []):
        task_path = f"{path}[{index}]"
        for key in task:
            if key not in _TASK_FIELDS or (not is_dag and key in ("dependencies", "depends")):
                _fail(f"{task_path}.{key}", "not supported by the local runner")
        if "template" in task and task["template"] not in names:
            _fail(f"{task_path}.template", f"template '{task['template']}' not found")
        _check_hooks(task.get("hooks"), f"{task_path}.hooks")
        _check_artifacts(
            (task.get("arguments") or {}).get("artifacts"), f"{task_path}.arguments.artifacts"
        )
        if "inline" in task:
            _check_template(task["inline"], f"{task_path}.inline", names)


def _check_template(template: dict[str, Any], path: str, names: set[str]) -> None:
    for kind in _UNSUPPORTED_KINDS:
        if kind in template:
            _fail(f"{path}.{kind}", "not supported by the local runner")
    for key in template:
        if key not in _TEMPLATE_FIELDS:
            _fail(f"{path}.{key}", "not supported by the local runner")
    kinds = [k for k in _TEMPLATE_KINDS if k in template]
    if len(kinds) != 1:
        _fail(path, f"a template needs exactly one of {', '.join(_TEMPLATE_KINDS)}")
    _check_artifacts((template.get("inputs") or {}).get("artifacts"), f"{path}.inputs.artifacts")
    _check_artifacts((template.get("outputs") or {}).get("artifacts"), f"{path}.outputs.artifacts")
    for key in ("sidecars", "initContainers", "daemon", "memoize"):
        if key in template:
            _fail(f"{path}.{key}", "not supported by the local runner")
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
        if key not in _SPEC_FIELDS:
            _fail(f"spec.{key}", "not supported by the local runner")
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
    for index, template in enumerate(templates):
        _check_template(template, f"spec.templates[{index}]", names)
    _check_expressions(spec, "spec")
