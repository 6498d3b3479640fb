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

from typing import Any, Final, NoReturn

from engine.backends.local.argo_validation import Invalid, TemplateLookup, validate_argo_workflow
from engine.backends.local.scope import REPOSITORY_KINDS, repository_key, repository_location
from engine.errors import SpecError

__all__ = ["check_spec_fields", "validate_workflow"]

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


def _fail(path: str, message: str, hint: str | None = None) -> NoReturn:
    raise SpecError(path, message, hint)


def _unknown(path: str, kind: str) -> None:
    _fail(
        path,
        f"unknown field: Argo's {kind} has no such field",
        "check its spelling and where it sits (argo submit --strict rejects it too)",
    )


# ---------------------------------------------------------------------------- 1. the fields


def _shaped(value: Any, shape: type, path: str) -> Any:
    """``value`` if it is a map (``dict``) or a list, as the field must be, or absent; else
    refused as Go's decoding of the Workflow refuses it."""
    if value is not None and not isinstance(value, shape):
        _fail(
            path,
            f"expected {'list' if shape is list else 'map'}, got {type(value).__name__}",
            "see the field in Argo's Workflow reference (argo-workflows.readthedocs.io)",
        )
    return value


def _maps(value: Any, path: str) -> list[dict[str, Any]]:
    """A list of maps (parameters, artifacts, tasks, containers ...)."""
    items: list[Any] = _shaped(value, list, path) or []
    for index, item in enumerate(items):
        _shaped(item, dict, f"{path}[{index}]")
    return items


def _io_fields(holder: Any, path: str) -> None:
    """``arguments``, ``inputs`` or ``outputs``: maps holding lists of parameters and artifacts."""
    if _shaped(holder, dict, path):
        for kind in ("parameters", "artifacts"):
            _maps(holder.get(kind), f"{path}.{kind}")


def _task_fields(tasks: Any, path: str, is_dag: bool) -> None:
    for index, task in enumerate(_maps(tasks, path)):
        task_path = f"{path}[{index}]"
        for key in task:
            if key not in _TASK_FIELDS | _DROPPED or (
                not is_dag and key in ("dependencies", "depends")
            ):
                _unknown(f"{task_path}.{key}", "DAGTask" if is_dag else "WorkflowStep")
        _io_fields(task.get("arguments"), f"{task_path}.arguments")
        if "inline" in task:
            _template_fields(
                _shaped(task["inline"], dict, f"{task_path}.inline"), f"{task_path}.inline"
            )


def _template_fields(template: dict[str, Any], path: str) -> None:
    for key in template:
        if key not in _TEMPLATE_FIELDS | _DROPPED:
            _unknown(f"{path}.{key}", "Template")
    for io in ("inputs", "outputs"):
        _io_fields(template.get(io), f"{path}.{io}")
    for body in ("container", "script", "containerSet", "dag", "suspend", "http", "data"):
        _shaped(template.get(body), dict, f"{path}.{body}")
    containers = [(f"{path}.container", template.get("container"))]
    containers.append((f"{path}.script", template.get("script")))
    for field in ("initContainers", "sidecars", "volumes"):
        _maps(template.get(field), f"{path}.{field}")
    for field in ("initContainers", "sidecars"):
        containers += [(f"{path}.{field}[{i}]", c) for i, c in enumerate(template.get(field) or [])]
    if template.get("containerSet"):
        set_path = f"{path}.containerSet"
        members = _maps(template["containerSet"].get("containers"), f"{set_path}.containers")
        containers += [(f"{set_path}.containers[{i}]", c) for i, c in enumerate(members)]
    for container_path, container in containers:
        for field in ("env", "volumeMounts"):
            _maps((container or {}).get(field), f"{container_path}.{field}")
    if template.get("dag"):
        _task_fields(template["dag"].get("tasks"), f"{path}.dag.tasks", is_dag=True)
    for group_index, group in enumerate(
        _shaped(template.get("steps"), list, f"{path}.steps") or []
    ):
        _task_fields(group, f"{path}.steps[{group_index}]", is_dag=False)


def check_spec_fields(spec: Any, path: str = "spec") -> dict[str, Any]:
    """Stage 1 for a Workflow's (or WorkflowTemplate's) spec: known fields, of the right shape;
    returns the spec."""
    if not isinstance(spec, dict):
        _fail(path, "missing" if spec is None else f"expected map, got {type(spec).__name__}")
    for key in spec:
        if key not in _SPEC_FIELDS | _DROPPED:
            _unknown(f"{path}.{key}", "WorkflowSpec")
    _io_fields(spec.get("arguments"), f"{path}.arguments")
    for field in ("volumes", "volumeClaimTemplates"):
        _maps(spec.get(field), f"{path}.{field}")
    _shaped(spec.get("hooks"), dict, f"{path}.hooks")
    for index, template in enumerate(_maps(spec.get("templates"), f"{path}.templates")):
        _template_fields(template, f"{path}.templates[{index}]")
    return spec


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
        if isinstance(listed, dict) and repository_location(listed) is None:
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
    spec = check_spec_fields(workflow.get("spec"))
    templates = spec.get("templates") or []
    try:
        validate_argo_workflow(workflow, lookup)
    except Invalid as error:
        raise error.spec_error() from None
    for index, template in enumerate(templates):
        _local_limits(template, f"spec.templates[{index}]")
