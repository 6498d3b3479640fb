"""Up-front checks of a submitted Workflow, before any node runs, in three stages:

1. the fields, as ``argo submit``'s strict decode reads them: an unknown field is refused;
2. Argo's own validator (``engine.backends.local.argo_validation``, a port of
   workflow/validate/validate.go): what ``argo submit`` refuses, with Argo's message;
3. what the local runner cannot do (``resource`` templates, sidecars without a command, a data
   template listing anything but the local artifact repository ...).

The first problem raises ``SpecError`` naming the field path (``spec.templates[3].resource``).
Fields with no local meaning (images, resources, node selectors, security contexts, pod GC,
TTLs ...) are otherwise accepted and ignored.
"""

from __future__ import annotations

from typing import Any, Final

from engine.backends.local.argo_validation import Invalid, TemplateLookup, validate_argo_workflow
from engine.backends.local.data_template import artifact_paths_key
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
_UNSUPPORTED_KINDS: Final = ("resource", "plugin")
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


# ---------------------------------------------------------------------------- 1. the fields


def _task_fields(tasks: Any, path: str, is_dag: bool) -> None:
    for index, task in enumerate(tasks or []):
        task_path = f"{path}[{index}]"
        for key in task:
            if key not in _TASK_FIELDS | _DROPPED or (
                not is_dag and key in ("dependencies", "depends")
            ):
                _unknown(f"{task_path}.{key}", "DAGTask" if is_dag else "WorkflowStep")
        if "inline" in task:
            _template_fields(task["inline"], f"{task_path}.inline")


def _template_fields(template: dict[str, Any], path: str) -> None:
    for key in template:
        if key not in _TEMPLATE_FIELDS | _DROPPED:
            _unknown(f"{path}.{key}", "Template")
    if isinstance(template.get("dag"), dict):
        _task_fields(template["dag"].get("tasks"), f"{path}.dag.tasks", is_dag=True)
    for group_index, group in enumerate(template.get("steps") or []):
        _task_fields(group, f"{path}.steps[{group_index}]", is_dag=False)


# ---------------------------------------------------------------------------- 3. local limits


def _local_artifacts(artifacts: Any, path: str, *, inputs: bool = True) -> None:
    """Artifacts the local runner can place: from the local store, or (to read) over HTTP or
    from a git repository."""
    for index, artifact in enumerate(artifacts or []):
        for key in artifact:
            if key == "git" and inputs:
                continue
            if key == "http" and inputs:
                auth = (artifact["http"] or {}).get("auth") or {}
                if set(auth) - {"basicAuth"}:
                    _fail(
                        f"{path}[{index}].http.auth",
                        "only basicAuth is supported by the local runner",
                    )
            elif key not in _ARTIFACT_FIELDS:
                _fail(
                    f"{path}[{index}].{key}",
                    "not supported by the local runner",
                    (
                        "artifacts live in the local store: path/from/raw, or an s3/gcs/oss/azure "
                        "key; inputs may also come over http or from git"
                    ),
                )
        for kind in REPOSITORY_KINDS:
            if kind in artifact and repository_key(artifact) is None:
                _fail(
                    f"{path}[{index}].{kind}",
                    "the local artifact repository needs a key (s3/gcs/oss: key, azure: blob)",
                )


def _local_limits(template: dict[str, Any], path: str) -> None:
    for kind in _UNSUPPORTED_KINDS:
        if kind in template:
            _fail(f"{path}.{kind}", "not supported by the local runner")
    data = template.get("data")
    if isinstance(data, dict):
        listed = (data.get("source") or {}).get("artifactPaths")
        if isinstance(listed, dict) and artifact_paths_key(listed) is None:
            _fail(
                f"{path}.data.source.artifactPaths",
                "the local runner lists keys of its artifact repository only",
                "give it an s3, gcs, oss or azure location (its key or blob is the prefix)",
            )
    _local_artifacts((template.get("inputs") or {}).get("artifacts"), f"{path}.inputs.artifacts")
    _local_artifacts(
        (template.get("outputs") or {}).get("artifacts"), f"{path}.outputs.artifacts", inputs=False
    )
    for field in ("initContainers", "sidecars"):
        for index, container in enumerate(template.get(field) or []):
            if not container.get("command"):
                _fail(
                    f"{path}.{field}[{index}].command",
                    "required by the local runner (the host's tools run, not the image's "
                    "entrypoint)",
                )
        if field in template and not ("container" in template or "script" in template):
            _fail(f"{path}.{field}", f"only container and script templates can have {field}")
    memoize = template.get("memoize")
    if memoize is not None:
        if not memoize.get("key"):
            _fail(f"{path}.memoize.key", "required")
        if not ((memoize.get("cache") or {}).get("configMap") or {}).get("name"):
            _fail(f"{path}.memoize.cache.configMap.name", "required")
    for task_path, task in _children(template, path):
        _local_artifacts(
            (task.get("arguments") or {}).get("artifacts"), f"{task_path}.arguments.artifacts"
        )
        if "inline" in task:
            _local_limits(task["inline"], f"{task_path}.inline")


def _children(template: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """A steps or DAG template's steps or tasks, with their paths."""
    found = []
    if isinstance(template.get("dag"), dict):
        for index, task in enumerate(template["dag"].get("tasks") or []):
            found.append((f"{path}.dag.tasks[{index}]", task))
    for group_index, group in enumerate(template.get("steps") or []):
        for index, step in enumerate(group or []):
            found.append((f"{path}.steps[{group_index}][{index}]", step))
    return found


def validate_workflow(workflow: dict[str, Any], lookup: TemplateLookup | None = None) -> None:
    """Raise ``SpecError`` for the first field Argo refuses or the local runner cannot
    honour; ``lookup`` finds the WorkflowTemplates' templates a ``templateRef`` names."""
    if workflow.get("kind", "Workflow") != "Workflow":
        _fail("kind", f"expected Workflow, got {workflow.get('kind')!r}")
    spec = workflow.get("spec")
    if not isinstance(spec, dict):
        _fail("spec", "missing")
        return
    for key in spec:
        if key not in _SPEC_FIELDS | _DROPPED:
            _unknown(f"spec.{key}", "WorkflowSpec")
    templates = spec.get("templates") or []
    for index, template in enumerate(templates):
        _template_fields(template, f"spec.templates[{index}]")
    try:
        validate_argo_workflow(workflow, lookup)
    except Invalid as error:
        raise error.spec_error() from None
    for index, template in enumerate(templates):
        _local_limits(template, f"spec.templates[{index}]")
