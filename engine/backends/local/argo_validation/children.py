"""validate.go ``validateSteps`` and ``validateDAG``: the children of a steps or DAG template,
each checked with what the steps before it, or the task's ancestors, make available."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from engine.backends.local.argo_validation.fields import (
    any_string,
    check_arguments,
    check_field_names,
    check_hooks,
    name_errors,
)
from engine.backends.local.argo_validation.graph import ITEMS, DagGraph, invalid_task_result
from engine.backends.local.argo_validation.invalid import SCOPE_HINT, Invalid
from engine.backends.local.argo_validation.process_args import FAKE, Arguments
from engine.backends.local.argo_validation.scope import Scope, add_items, add_outputs
from engine.backends.local.argo_validation.variables import (
    PLACEHOLDER_PREFIX,
    Placeholders,
    is_parameter,
    unresolved_tag,
)

__all__ = ["Base", "Validator", "check_dag", "check_steps"]

#: Where plain template names resolve: None for the workflow, else (name, cluster scope).
Base = tuple[str, bool] | None


class Validator(Protocol):
    """What the children of a template need of the walk (``workflow._Validator``)."""

    globals: dict[str, str]
    placeholders: Placeholders

    def child(
        self, body: dict[str, Any], base: Base, args: Arguments, where: str, label: str
    ) -> dict[str, Any] | None: ...


def _out(v: Validator) -> tuple[dict[str, str], Placeholders]:
    return v.globals, v.placeholders


def _is_loop(body: dict[str, Any]) -> bool:
    return bool(body.get("withItems")) or bool(body.get("withParam"))


def _has_exit_hook(body: dict[str, Any]) -> bool:
    return "exit" in (body.get("hooks") or {}) or bool(body.get("onExit"))


@dataclass(slots=True)
class _Prepared:
    """What does not depend on a template's arguments: its own scope, and whether its text
    can be read at all (fasttemplate)."""

    names: set[str]
    unreadable: str | None


@dataclass(slots=True)
class _Dag:
    """One DAG template being checked: its tasks' templates, for ancestors' outputs."""

    graph: DagGraph
    resolved: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    ancestor_outputs: dict[str, Scope] = field(default_factory=dict)


class _TaskScope(Scope):
    """A DAG task's scope: its template's, plus its ancestors' outputs and statuses, looked
    up only when a ``tasks.X...`` name is not otherwise in scope."""

    __slots__ = ("dag", "task", "validator")

    def __init__(self, parent: Scope, dag: _Dag, task: str, validator: Validator) -> None:
        super().__init__(parent)
        self.dag = dag
        self.task = task
        self.validator = validator

    def __contains__(self, name: object) -> bool:
        if super().__contains__(name):
            return True
        if not isinstance(name, str) or not name.startswith("tasks."):
            return False
        other = name.split(".", 2)[1]
        if other not in self.dag.graph.tasks or not self.dag.graph.is_ancestor(self.task, other):
            return False
        return name in ancestor_outputs(self.validator, self.dag, other)


def check_steps(v: Validator, body: dict[str, Any], scope: Scope, base: Base, path: str) -> None:
    """validate.go ``validateSteps``."""
    name = body.get("name", "")
    _non_leaf(body, path)
    seen: set[str] = set()
    for group_index, group in enumerate(body.get("steps") or []):
        for step_index, step in enumerate(group or []):
            where = f"{path}.steps[{group_index}][{step_index}]"
            step_name = str(step.get("name") or "")
            label = f"templates.{name}.steps[{group_index}]"
            if not step_name:
                raise Invalid(f"{label}.name is required", f"{where}.name", "name the step")
            if step_name in seen:
                raise Invalid(
                    f"{label}.name '{step_name}' is not unique",
                    f"{where}.name",
                    "rename one of the steps",
                )
            errors = _step_name_errors(step_name)
            if errors:
                raise Invalid(
                    f"{label}.name '{step_name}' is invalid: {';'.join(errors)}",
                    f"{where}.name",
                    "letters, digits and '-', starting with a letter or digit",
                )
            seen.add(step_name)
            scope.add(f"steps.{step_name}.status")
            problem = add_items(step, scope)
            if problem:
                raise Invalid(f"{label}.{step_name} {problem}", where, _LOOP_HINT)
            check_arguments(
                step.get("arguments"), f"{label}.{step_name}.arguments.", f"{where}.arguments"
            )
            resolved = v.child(step, base, FAKE, where, f"{label}.{step_name}")
            if _has_exit_hook(step):
                add_outputs(resolved, "steps", step_name, scope, *_out(v))
            check_hooks(step.get("hooks"), f"{label}.{step_name}", f"{where}.hooks")
            step_scope = scope.child()
            for param in ((step.get("inline") or {}).get("inputs") or {}).get("parameters") or []:
                step_scope.add(f"inputs.parameters.{param.get('name', '')}")
            missing = unresolved_tag(json.dumps(step, ensure_ascii=False), step_scope, step_scope)
            if missing:
                raise Invalid(
                    f"templates.{name}.steps failed to resolve {missing}", where, SCOPE_HINT
                )
            add_outputs(
                resolved,
                "steps",
                step_name,
                scope,
                v.globals,
                v.placeholders,
                aggregate=_is_loop(step),
            )
            v.child(step, base, step.get("arguments") or {}, where, f"{label}.{step_name}")


def ancestor_outputs(v: Validator, dag: _Dag, task: str) -> Scope:
    """What an ancestor adds to a task's scope (``addOutputsToScope``, as an ancestor)."""
    if task not in dag.ancestor_outputs:
        outputs = Scope()
        add_outputs(
            dag.resolved.get(task),
            "tasks",
            task,
            outputs,
            v.globals,
            v.placeholders,
            aggregate=_is_loop(dag.graph.tasks[task]),
            ancestor=True,
        )
        dag.ancestor_outputs[task] = outputs
    return dag.ancestor_outputs[task]


def check_dag(v: Validator, body: dict[str, Any], scope: Scope, base: Base, path: str) -> None:
    """validate.go ``validateDAG``."""
    name = body.get("name", "")
    _non_leaf(body, path)
    spec = body.get("dag") or {}
    tasks = spec.get("tasks") or []
    if not tasks:
        raise Invalid(
            f"templates.{name} must have at least one task",
            f"{path}.dag.tasks",
            "a DAG runs one or more tasks",
        )
    using_depends = any(t.get("depends") for t in tasks)
    dag = _Dag(DagGraph(tasks))
    index_of = {str(t.get("name", "")): i for i, t in reversed(list(enumerate(tasks)))}
    try:
        ordered = dag.graph.sorted_tasks(tasks)
    except ValueError as error:
        cycle = dag.graph.cycle() if str(error) == "graph with cycle" else None
        raise Invalid(
            f"templates.{name} sorting failed: {error}",
            f"{path}.dag.tasks",
            f"dependency cycle: {cycle}" if cycle else _DEPENDENCY_HINT,
        ) from None
    check_field_names(tasks, f"templates.{name}.tasks", f"{path}.dag.tasks")
    for task in ordered:
        task_name = str(task.get("name", ""))
        where = f"{path}.dag.tasks[{index_of[task_name]}]"
        label = f"templates.{name}.tasks.{task_name}"
        if (using_depends or task.get("dependencies")) and task_name[0].isdigit():
            raise Invalid(
                f"{label} name cannot begin with a digit when using either 'depends' or "
                "'dependencies'",
                f"{where}.name",
                "start the task's name with a letter",
            )
        if using_depends and task.get("dependencies"):
            raise Invalid(
                f"templates.{name} cannot use both 'depends' and 'dependencies' in the same "
                "DAG template",
                f"{where}.dependencies",
                "write every task's dependencies as 'depends'",
            )
        if using_depends and task.get("continueOn") is not None:
            raise Invalid(
                f"templates.{name} cannot use 'continueOn' when using 'depends'. Instead use "
                "'dep-task.Failed'/'dep-task.Errored'",
                f"{where}.continueOn",
                "e.g. depends: 'A.Succeeded || A.Failed'",
            )
        resolved = v.child(task, base, FAKE, where, label)
        dag.resolved[task_name] = resolved
        add_outputs(resolved, "tasks", task_name, scope, *_out(v), aggregate=_is_loop(task))
        problem = invalid_task_result(task)
        if problem:
            raise Invalid(
                f"{label} {problem}",
                f"{where}.depends",
                "results: Succeeded, Failed, Errored, Skipped, Omitted, Daemoned, "
                "AnySucceeded, AllFailed",
            )
        for dep, kind in dag.graph.dependencies[task_name].items():
            depended = dag.graph.tasks[dep]
            if kind == ITEMS and not _is_loop(depended) and depended.get("withSequence") is None:
                raise Invalid(
                    f"templates.{name}.tasks.{dep} dependency '{dep}' uses an items-based "
                    "condition such as .AnySucceeded or .AllFailed but does not contain any "
                    "items",
                    f"{where}.depends",
                    f"'{dep}' has no withItems, withParam or withSequence",
                )
    target = str(spec.get("target") or "")
    missing = unresolved_tag(target, scope, scope)
    if missing:
        raise Invalid(
            f"templates.{name}.targets failed to resolve {missing}",
            f"{path}.dag.target",
            SCOPE_HINT,
        )
    if target:
        for wanted in target.split(" "):
            if not is_parameter(wanted) and wanted not in dag.graph.tasks:
                raise Invalid(
                    f"templates.{name}.targets: target '{wanted}' is not defined",
                    f"{path}.dag.target",
                    f"tasks: {', '.join(dag.graph.tasks)}",
                )
    for task in ordered:
        _dag_task(v, task, dag, scope, base, path, index_of, name)


def _dag_task(
    v: Validator,
    task: dict[str, Any],
    dag: _Dag,
    scope: Scope,
    base: Base,
    path: str,
    index_of: Mapping[str, int],
    name: str,
) -> None:
    """The second pass of validate.go ``validateDAG`` over one task."""
    task_name = str(task.get("name", ""))
    where = f"{path}.dag.tasks[{index_of[task_name]}]"
    label = f"templates.{name}.tasks.{task_name}"
    resolved = dag.resolved.get(task_name)
    if task.get("hooks") is not None:
        scope.add(f"tasks.{task_name}.status")
    add_outputs(resolved, "tasks", task_name, scope, *_out(v))
    task_scope = _TaskScope(scope, dag, task_name, v)
    for param in ((task.get("inline") or {}).get("inputs") or {}).get("parameters") or []:
        task_scope.add(f"inputs.parameters.{param.get('name', '')}")
    problem = add_items(task, task_scope)
    if problem:
        raise Invalid(f"{label} {problem}", where, _LOOP_HINT)
    missing = unresolved_tag(json.dumps(task, ensure_ascii=False), task_scope, task_scope)
    if missing:
        raise Invalid(f"{label} failed to resolve {missing}", where, SCOPE_HINT)
    arguments = task.get("arguments") or {}
    check_arguments(arguments, f"{label}.arguments.", f"{where}.arguments")
    for kind, key in (("parameters", "value"), ("artifacts", "from")):
        for index, item in enumerate(arguments.get(kind) or []):
            value = item.get(key)
            text = any_string(value) if value is not None else ""
            if not text.startswith("{{tasks."):
                continue
            other = text.split(".")[1]
            if not dag.graph.is_ancestor(task_name, other):
                raise Invalid(
                    f"{label} missing dependency '{other}' for {kind[:-1]} "
                    f"'{item.get('name', '')}'",
                    f"{where}.arguments.{kind}[{index}]",
                    f"add '{other}' to the task's depends (or dependencies)",
                )
    v.child(task, base, arguments, where, label)


_LOOP_HINT: Final = "a loop is one of withItems, withParam, withSequence"
_DEPENDENCY_HINT: Final = "depend only on tasks of the same DAG, each task named once"
_PLACEHOLDER_FRAGMENT: Final = re.compile(re.escape(PLACEHOLDER_PREFIX) + r"[0-9]+")


def _step_name_errors(name: str) -> list[str]:
    """validate.go ``isValidStepName``: placeholders stand for one character."""
    return name_errors(_PLACEHOLDER_FRAGMENT.sub("x", name))


def _non_leaf(body: dict[str, Any], path: str) -> None:
    """validate.go ``validateNonLeaf``."""
    if body.get("activeDeadlineSeconds") is not None:
        raise Invalid(
            f"templates.{body.get('name', '')}.activeDeadlineSeconds is only valid for leaf "
            "templates",
            f"{path}.activeDeadlineSeconds",
            "put the deadline on the templates that run something, or on the workflow",
        )
