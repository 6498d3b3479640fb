"""The walk of Argo's validator over a workflow (workflow/validate/validate.go ``Workflow``).

From the entrypoint, then the exit handler, then every template, each template reference is
resolved (``validateTemplateHolder``) and the template checked with the arguments it is called
with (``validateTemplate``): its inputs are substituted as ``common.ProcessArgs`` does, then,
once per template, its body (``validateSteps``, ``validateDAG`` or ``validateLeaf``) and its
outputs. Steps and DAGs check each child twice, as Argo does: once with made-up arguments
(placeholders), once with the arguments written.

The part of ``validateTemplate`` Argo runs on every call (arguments supplied, timeouts) is done
here without substituting the whole template; the substitution runs once per template, when
its body is checked. Scopes are layered (``Scope``) instead of copied per step or task, and a
DAG task's ancestors are asked about only when a reference needs one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from engine.backends.local.argo_validation.children import Base, check_dag, check_steps
from engine.backends.local.argo_validation.fields import (
    any_string,
    check_arguments,
    check_field_names,
    check_hooks,
    check_input_artifacts,
    check_metrics,
    check_output_names,
    check_outputs,
    check_pod_resources,
)
from engine.backends.local.argo_validation.invalid import SCOPE_HINT, Invalid
from engine.backends.local.argo_validation.leaf import ATOI, check_leaf
from engine.backends.local.argo_validation.process_args import (
    FAKE,
    Arguments,
    input_parameters,
    local_params,
    substitute,
    substituted_field,
)
from engine.backends.local.argo_validation.scope import (
    LEAF_KINDS,
    POD_KINDS,
    RETRY_VARIABLES,
    Scope,
    template_type,
)
from engine.backends.local.argo_validation.variables import (
    ANY_WORKFLOW_OUTPUT_ARTIFACT,
    PLACEHOLDER_PREFIX,
    Placeholders,
    UnterminatedTag,
    check_tags,
    is_parameter,
    iter_tags,
    unresolved_tag,
)

__all__ = ["TemplateLookup", "validate_argo_workflow"]

#: Finds a WorkflowTemplate's template: (resource name, template name, cluster scope).
TemplateLookup = Callable[[str, str, bool], dict[str, Any] | None]

_KINDS: Final = (
    "container",
    "containerSet",
    "steps",
    "script",
    "resource",
    "dag",
    "suspend",
    "data",
    "http",
    "plugin",
)
_CHOOSE: Final = (
    "choose one of: container, containerSet, steps, script, resource, dag, suspend, template, "
    "template ref"
)
_RETRY_POLICIES: Final = frozenset({"", "Always", "OnError", "OnFailure", "OnTransientError"})
_POD_GC: Final = frozenset(
    {"", "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"}
)


@dataclass(slots=True)
class _Prepared:
    """What does not depend on a template's arguments: its own scope, and whether its text
    can be read at all (fasttemplate)."""

    names: set[str]
    unreadable: str | None


class _Validator:
    def __init__(self, workflow: dict[str, Any], lookup: TemplateLookup | None) -> None:
        self.workflow = workflow
        self.spec: dict[str, Any] = workflow.get("spec") or {}
        self.lookup = lookup
        self.placeholders = Placeholders()
        self.globals: dict[str, str] = {}
        self.done: set[tuple[Base, str]] = set()
        # By id(): the template is kept with its entry, so no other object takes its id.
        self.prepared: dict[int, tuple[dict[str, Any], _Prepared]] = {}
        self.referenced: dict[tuple[str, str, bool], dict[str, Any] | None] = {}
        self.local: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, template in enumerate(self.spec.get("templates") or []):
            self.local.setdefault(str(template.get("name", "")), (index, template))

    # ------------------------------------------------------------------ the workflow

    def run(self) -> None:
        """validate.go ``Workflow``."""
        spec = self.spec
        name = str((self.workflow.get("metadata") or {}).get("name") or "")
        if len(name) > 63:
            raise Invalid(
                f"workflow name {json.dumps(name)} must not be more than 63 characters long "
                f"(currently {len(name)})",
                "metadata.name",
                "shorten the name (it becomes a label value)",
            )
        templates = spec.get("templates") or []
        check_field_names(templates, "spec.templates", "spec.templates")
        arguments = spec.get("arguments") or {}
        check_arguments(arguments, "spec.arguments.", "spec.arguments")
        self._globals(arguments)
        entrypoint = str(spec.get("entrypoint") or "")
        if not entrypoint:
            raise Invalid(
                "spec.entrypoint is required",
                "spec.entrypoint",
                "name the template the workflow starts with",
            )
        self.holder({"template": entrypoint}, None, arguments, "spec.entrypoint", field_=True)
        if spec.get("onExit"):
            self.globals["workflow.failures"] = self.placeholders.new()
            if any(
                is_parameter(str(a.get("globalName") or ""))
                for t in templates
                for a in (t.get("outputs") or {}).get("artifacts") or []
                if a.get("globalName")
            ):
                self.globals[ANY_WORKFLOW_OUTPUT_ARTIFACT] = "true"
            self.holder({"template": spec["onExit"]}, None, arguments, "spec.onExit", field_=True)
        check_hooks(spec.get("hooks"), "hooks", "spec.hooks")
        strategy = str((spec.get("podGC") or {}).get("strategy") or "")
        if strategy not in _POD_GC:
            raise Invalid(
                f"podGC.strategy unknown strategy '{strategy}'",
                "spec.podGC.strategy",
                f"one of: {', '.join(sorted(s for s in _POD_GC if s))}",
            )
        check_pod_resources(spec.get("podResources"), "spec.podResources", "spec.podResources")
        for index, template in enumerate(templates):
            name = str(template.get("name", ""))
            try:
                self.holder({"template": name}, None, FAKE, f"spec.templates[{index}]")
            except Invalid as error:
                raise error.wrap(f"templates.{name}") from None

    def _globals(self, arguments: dict[str, Any]) -> None:
        new = self.placeholders.new
        spec, meta = self.spec, self.workflow.get("metadata") or {}
        for key in (
            "workflow.name",
            "workflow.namespace",
            "workflow.mainEntrypoint",
            "workflow.serviceAccountName",
            "workflow.uid",
        ):
            self.globals[key] = new()
        params = arguments.get("parameters") or []
        if params:
            self.globals["workflow.parameters"] = new()
            self.globals["workflow.parameters.json"] = new()
        for param in params:
            if param.get("name"):
                value = param.get("value")
                self.globals[f"workflow.parameters.{param['name']}"] = (
                    any_string(value) if value is not None else new()
                )
        metadata = spec.get("workflowMetadata") or {}
        for kind, sources in (
            ("annotations", (meta.get("annotations"), metadata.get("annotations"))),
            (
                "labels",
                (meta.get("labels"), metadata.get("labels"), metadata.get("labelsFrom")),
            ),
        ):
            for source in sources:
                for key in source or {}:
                    self.globals[f"workflow.{kind}.{key}"] = new()
            self.globals[f"workflow.{kind}"] = new()
            self.globals[f"workflow.{kind}.json"] = new()
        if spec.get("priority") is not None:
            self.globals["workflow.priority"] = any_string(spec["priority"])
        self.globals["workflow.status"] = new()

    # ------------------------------------------------------------------ template references

    def template_in(self, base: Base, name: str) -> tuple[dict[str, Any], str] | None:
        """``GetTemplateByName`` in the workflow, or in the WorkflowTemplate ``base``."""
        if base is None:
            found = self.local.get(name)
            return None if found is None else (found[1], f"spec.templates[{found[0]}]")
        template = self.referenced_template(base[0], name, base[1])
        return None if template is None else (template, self._ref_path(base[0], name, base[1]))

    @staticmethod
    def _ref_path(resource: str, name: str, cluster: bool) -> str:
        kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
        return f"{kind}({resource}).spec.templates({name})"

    def referenced_template(self, resource: str, name: str, cluster: bool) -> dict[str, Any] | None:
        key = (resource, name, cluster)
        if key not in self.referenced:
            self.referenced[key] = self.lookup(*key) if self.lookup is not None else None
        return self.referenced[key]

    def holder(
        self,
        holder: dict[str, Any],
        base: Base,
        args: Arguments,
        path: str,
        *,
        field_: bool = False,
    ) -> dict[str, Any] | None:
        """validate.go ``validateTemplateHolder``: resolve what a step, task or the workflow
        calls, then check that template with ``args``. ``path`` is the holder's own path,
        or (``field_``) the field naming the template."""
        ref = holder.get("templateRef")
        name = str(holder.get("template") or "")
        name_path = path if field_ else f"{path}.template"
        if ref is not None:
            ref = ref or {}
            if name:
                raise Invalid(
                    "template name cannot be specified with templateRef",
                    name_path,
                    "keep 'template' or 'templateRef'",
                )
            if not ref.get("name"):
                raise Invalid("resource name is required", f"{path}.templateRef.name")
            if not ref.get("template"):
                raise Invalid("template name is required", f"{path}.templateRef.template")
            if _has_simple_tag(json.dumps(ref)):
                return None  # resolved at run time: Argo only logs a warning
        elif name and self.template_in(base, name) is None:
            raise Invalid(
                f"template name '{name}' undefined",
                name_path,
                f"templates: {', '.join(self.local) or 'none'}" if base is None else None,
            )
        new_base = base
        if holder.get("inline") is not None:
            template, template_path = holder["inline"], f"{path}.inline"
            if ref:
                new_base = (str(ref["name"]), bool(ref.get("clusterScope")))
        elif ref:
            resource, wanted, cluster = (
                str(ref["name"]),
                str(ref["template"]),
                bool(ref.get("clusterScope")),
            )
            found = self.referenced_template(resource, wanted, cluster)
            if found is None:
                if PLACEHOLDER_PREFIX in wanted:
                    return None  # a template named by a parameter: resolved at run time
                raise Invalid(
                    f"template reference {resource}.{wanted} not found",
                    f"{path}.templateRef",
                    "apply the WorkflowTemplate (drover apply / LocalBackend.apply) first",
                )
            template, template_path = found, self._ref_path(resource, wanted, cluster)
            new_base = (resource, cluster)
        elif name:
            resolved = self.template_in(base, name)
            assert resolved is not None
            template, template_path = resolved
        else:
            raise Invalid("failed to get a template", path, "name a template to run")
        if not template_type(template):
            raise Invalid(
                f"template '{template.get('name', '')}' type is unknown",
                template_path,
                f"give it one of: {', '.join(_KINDS)}",
            )
        policy = str((template.get("retryStrategy") or {}).get("retryPolicy") or "")
        if template.get("retryStrategy") is not None and policy not in _RETRY_POLICIES:
            raise Invalid(
                f"{policy} is not a valid RetryPolicy",
                f"{template_path}.retryStrategy.retryPolicy",
                "one of: Always, OnError, OnFailure, OnTransientError",
            )
        self.template(template, new_base, args, template_path)
        resolved_template: dict[str, Any] = template
        return resolved_template

    # ------------------------------------------------------------------ one template

    def prepare(self, template: dict[str, Any], path: str) -> _Prepared:
        """validate.go ``validateInputs`` and the argument-free part of ``validateTemplate``."""
        key = id(template)
        if key in self.prepared:
            return self.prepared[key][1]
        name = template.get("name", "")
        kind = template_type(template)
        leaf = kind in LEAF_KINDS
        inputs = template.get("inputs") or {}
        params = inputs.get("parameters") or []
        artifacts = inputs.get("artifacts") or []
        check_field_names(
            params,
            f"templates.{name}.inputs.parameters",
            f"{path}.inputs.parameters",
            param_or_artifact=True,
        )
        check_field_names(
            artifacts,
            f"templates.{name}.inputs.artifacts",
            f"{path}.inputs.artifacts",
            param_or_artifact=True,
        )
        names = {f"inputs.parameters.{p.get('name', '')}" for p in params}
        if params:
            names.add("inputs.parameters")
        for artifact in artifacts:
            names.add(f"inputs.artifacts.{artifact.get('name', '')}")
            if leaf:
                names.add(f"inputs.artifacts.{artifact.get('name', '')}.path")
        check_input_artifacts(template, path, leaf)
        for index, init in enumerate(template.get("initContainers") or []):
            if not (init or {}).get("name"):
                raise Invalid(
                    "initContainers must all have container name",
                    f"{path}.initContainers[{index}].name",
                    "name every init container",
                )
        if kind in POD_KINDS:
            names.add("pod.name")
        if template.get("retryStrategy") is not None:
            names.update(RETRY_VARIABLES)
        if leaf:
            outputs = template.get("outputs") or {}
            for artifact in outputs.get("artifacts") or []:
                if artifact.get("path"):
                    names.add(f"outputs.artifacts.{artifact.get('name', '')}.path")
            for param in outputs.get("parameters") or []:
                if (param.get("valueFrom") or {}).get("path"):
                    names.add(f"outputs.parameters.{param.get('name', '')}.path")
        try:
            check_tags(json.dumps(template, ensure_ascii=False))
            unreadable = None
        except UnterminatedTag as error:
            unreadable = str(error)
        prepared = _Prepared(names, unreadable)
        self.prepared[key] = (template, prepared)
        return prepared

    def template(self, template: dict[str, Any], base: Base, args: Arguments, path: str) -> None:
        """validate.go ``validateTemplate``."""
        name = template.get("name", "")
        kinds = [kind for kind in _KINDS if template.get(kind) is not None]
        if len(kinds) != 1:
            problem = "template type unspecified" if not kinds else "multiple template types"
            raise Invalid(
                f"templates.{name} {problem}{'' if not kinds else ' specified'}. {_CHOOSE}",
                path,
                "a template is exactly one of container, script, steps, dag, ...",
            )
        kind = template_type(template)
        if template.get("podResources") is not None:
            if kind in ("HTTP", "Plugin"):
                raise Invalid(
                    f"templates.{name}.podResources is not supported for {kind} templates",
                    f"{path}.podResources",
                )
            check_pod_resources(
                template["podResources"], f"templates.{name}.podResources", f"{path}.podResources"
            )
        prepared = self.prepare(template, path)
        local = local_params(template, self.placeholders)
        params = input_parameters(template, args, path, self.placeholders)
        if prepared.unreadable:
            raise Invalid(
                f"templates.{name} {prepared.unreadable}", path, "close every '{{' with '}}'"
            )
        if template.get("resourceClaims") and kind not in POD_KINDS:
            raise Invalid(
                f"templates.{name}.resourceClaims is not supported for {kind} templates, "
                "which do not create a pod",
                f"{path}.resourceClaims",
            )
        for key in ("timeout", "pendingTimeout"):
            raw = template.get(key)
            if raw is None or raw == "":
                continue
            value = substituted_field(any_string(raw), params, local, self.globals)
            if not value:
                continue
            if kind not in LEAF_KINDS:
                raise Invalid(
                    f"{kind} template doesn't support {key} field",
                    f"{path}.{key}",
                    "only a template that runs something (container, script ...) has one",
                )
            if key == "timeout" and ATOI.fullmatch(value):
                raise Invalid(
                    f"{name} has invalid duration format in timeout",
                    f"{path}.timeout",
                    "a duration has a unit, e.g. 30s or 5m",
                )
        if (base, name) in self.done:
            return
        self.done.add((base, name))
        try:
            body = substitute(template, params, args, local, self.globals)
        except UnterminatedTag as error:
            raise Invalid(f"templates.{name} {error}", path, "close every '{{' with '}}'") from None
        except json.JSONDecodeError:
            raise Invalid(
                f"templates.{name} cannot finish template replacement because the result was "
                "invalid JSON",
                path,
            ) from None
        scope = Scope(self.globals)
        scope.names.update(prepared.names)
        if kind == "Steps":
            check_steps(self, body, scope, base, path)
        elif kind == "DAG":
            check_dag(self, body, scope, base, path)
        else:
            check_leaf(body, scope, path, lambda which: self._default_image(base, which))
        check_output_names(body, path)
        missing = unresolved_tag(json.dumps(body.get("outputs") or {}), scope, scope)
        if missing:
            raise Invalid(
                f"templates.{name}.outputs failed to resolve {missing}",
                f"{path}.outputs",
                SCOPE_HINT,
            )
        check_outputs(body, path, kind in LEAF_KINDS)
        location = body.get("archiveLocation") or {}
        if location.get("git") is not None and not (location.get("git") or {}).get("repo"):
            raise Invalid(
                f"templates.{name}.archiveLocation.git.repo is required",
                f"{path}.archiveLocation.git.repo",
            )
        check_metrics(body, path)

    def _default_image(self, base: Base, kind: str) -> bool:
        if base is not None:
            return True  # a WorkflowTemplate's templateDefaults are not read here
        defaults = self.spec.get("templateDefaults") or {}
        return bool((defaults.get(kind) or {}).get("image"))

    def child(
        self, body: dict[str, Any], base: Base, args: Arguments, where: str, label: str
    ) -> dict[str, Any] | None:
        try:
            return self.holder(body, base, args, where)
        except Invalid as error:
            raise error.wrap(label) from None


def _has_simple_tag(text: str) -> bool:
    """``VerifyResolvedVariables`` fails: a tag that is not an expression (or no end tag)."""
    try:
        return any(not tag.startswith("=") for _, _, tag in iter_tags(text))
    except UnterminatedTag:
        return True


def validate_argo_workflow(workflow: dict[str, Any], lookup: TemplateLookup | None = None) -> None:
    """Raise ``Invalid`` where Argo's validator refuses ``workflow`` (its ``Workflow`` with
    the submit options: every argument needs a value)."""
    _Validator(workflow, lookup).run()
