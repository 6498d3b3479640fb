"""Graph checks of Argo's validator: a DAG's dependencies and a containerSet's.

DAG dependencies are read as Argo reads them (workflow/common/ancestry.go
``GetTaskDependencies``): a regular expression over the task's ``depends`` logic, or over the
logic ``dependencies: [A]`` expands to. Tasks are sorted as ``sortDAGTasks`` does
(util/sorting/topological_sorting.go), which is also where Argo finds a cycle. Ancestry is
asked one task at a time and answered from the direct dependencies first, so a wide DAG is
not walked once per task.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Final

from engine.backends.local.argo_validation.fields import check_field_names
from engine.backends.local.argo_validation.invalid import Invalid
from engine.backends.local.expressions import DEPENDS_RESULTS

__all__ = ["DagGraph", "check_container_set", "task_dependencies"]

_TASK_NAME: Final = re.compile(
    r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)"
)
_PLAIN_NAME: Final = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
_TASK_RESULT: Final = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)")
_RESULTS: Final = frozenset(DEPENDS_RESULTS)
TASK: Final = "task"
ITEMS: Final = "items"
"""Dependency kinds: on a task, or on its items (``.AnySucceeded`` / ``.AllFailed``)."""


def _expand(name: str, task: dict[str, Any] | None) -> str:
    """ancestry.go ``expandDependency``."""
    results = ["Succeeded", "Skipped", "Daemoned"]
    continue_on = (task or {}).get("continueOn") or {}
    if continue_on.get("error"):
        results.append("Errored")
    if continue_on.get("failed"):
        results.append("Failed")
    return "(" + " || ".join(f"{name}.{result}" for result in results) + ")"


def task_dependencies(task: dict[str, Any], tasks: dict[str, dict[str, Any]]) -> dict[str, str]:
    """ancestry.go ``GetTaskDependencies``: every task name the logic mentions, with its kind
    (``ITEMS`` for ``.AnySucceeded``/``.AllFailed``, which takes precedence)."""
    logic = str(task.get("depends") or "")
    if logic:
        return _logic_names(logic, {})
    found: dict[str, str] = {}
    for dep in task.get("dependencies") or []:
        dep = str(dep)
        if _PLAIN_NAME.fullmatch(dep):
            # What the expansion (dep.Succeeded || dep.Skipped ...) reads as: dep alone.
            found.setdefault(dep, TASK)
        else:
            _logic_names(_expand(dep, tasks.get(dep)), found)
    return found


def _logic_names(logic: str, found: dict[str, str]) -> dict[str, str]:
    for match in _TASK_NAME.finditer(logic):
        if match.group(1) is not None:
            name, result = match.group(1).split(".", 1)
            if result in ("AnySucceeded", "AllFailed"):
                found[name] = ITEMS
            else:
                found.setdefault(name, TASK)
        else:
            found[match.group(2)] = TASK
    return found


def invalid_task_result(task: dict[str, Any]) -> str | None:
    """ancestry.go ``ValidateTaskResults``: the error text for an unknown ``X.Result``."""
    logic = str(task.get("depends") or "")
    if "." not in logic:
        return None  # no X.Result in it (and the search is slow on long logic)
    for match in _TASK_RESULT.finditer(logic):
        name, result = match.group(1).split(".", 1)
        if result not in _RESULTS:
            return f"task result '{result}' for task '{name}' is invalid"
    return None


class DagGraph:
    """The tasks of one DAG template and what each depends on."""

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = {str(t.get("name", "")): t for t in tasks}
        self.dependencies = {
            str(t.get("name", "")): task_dependencies(t, self.tasks) for t in tasks
        }

    def sorted_tasks(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``sortDAGTasks`` (Kahn's algorithm); raises ``ValueError`` with Argo's text.

        Argo starts from the tasks without dependencies in Go's map order (random); they are
        taken here in the order they are written."""
        names = [str(t.get("name", "")) for t in tasks]
        waiting: dict[str, int] = {}
        for name in names:
            if name in waiting:
                raise ValueError(f"duplicated nodeName {name}")
            waiting[name] = len(self.dependencies[name])
        followers: dict[str, list[str]] = {}
        for name in names:
            for dep in self.dependencies[name]:
                if dep not in waiting:
                    raise ValueError(f"invalid dependency {dep}")
                followers.setdefault(dep, []).append(name)
        queue = deque(name for name in names if waiting[name] == 0)
        order: list[str] = []
        while queue:
            current = queue.popleft()
            order.append(current)
            for follower in followers.get(current, []):
                waiting[follower] -= 1
                if waiting[follower] == 0:
                    queue.append(follower)
        if len(order) < len(names):
            raise ValueError("graph with cycle")
        return [self.tasks[name] for name in order]

    def cycle(self) -> str | None:
        """A cycle as validate.go ``verifyNoCycles`` prints it (``C->A->C``), for the hint:
        Argo's sort refuses a cycle before that function can name it."""
        visited: set[str] = set()
        for start in self.tasks:
            if start in visited:
                continue
            path: list[str] = []
            # Iterative depth-first search: (task, its dependencies, next index).
            stack: list[tuple[str, list[str], int]] = [(start, list(self.dependencies[start]), 0)]
            while stack:
                name, deps, index = stack.pop()
                if index == len(deps):
                    visited.add(name)
                    if path:
                        path.pop()
                    continue
                stack.append((name, deps, index + 1))
                dep = deps[index]
                if dep in path:
                    return "->".join([*path, dep])
                if dep in visited or dep not in self.tasks:
                    continue
                path.append(dep)
                stack.append((dep, list(self.dependencies[dep]), 0))
        return None

    def is_ancestor(self, task: str, other: str) -> bool:
        """Whether ``other`` is in ``task``'s ancestry (``GetTaskAncestry``)."""
        direct = self.dependencies.get(task, {})
        if other in direct:
            return True
        seen = set(direct)
        stack = list(direct)
        while stack:
            for dep in self.dependencies.get(stack.pop(), {}):
                if dep == other:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return False


def _container_cycle(graph: dict[str, list[str]]) -> str | None:
    """validation_utils.go ``validateNoCycles``, over the names in sorted order."""
    visited: set[str] = set()

    def visit(name: str, cycle: list[str]) -> str | None:
        if name in visited or name not in graph:
            return None
        for dep in graph[name]:
            if dep in cycle:
                return f"dependency cycle detected: {'->'.join(cycle)}->{dep}"
            cycle.append(dep)
            found = visit(dep, cycle)
            if found:
                return found
            cycle.pop()
        visited.add(name)
        return None

    for name in sorted(graph):
        found = visit(name, [])
        if found:
            return found
    return None


def check_container_set(template: dict[str, Any], path: str) -> None:
    """``ContainerSetTemplate.Validate`` (container_set_template_types.go), its messages under
    validateLeaf's ``templates.<name>.containerSet.`` prefix."""
    prefix = f"templates.{template.get('name', '')}.containerSet."
    spec = template.get("containerSet") or {}
    where = f"{path}.containerSet"
    containers = spec.get("containers") or []
    if not containers:
        raise Invalid(
            f"{prefix}containers must have at least one container",
            f"{where}.containers",
            "a containerSet runs one or more containers",
        )
    names = [str((c or {}).get("name") or "") for c in containers]
    check_field_names(names, f"{prefix}containers", f"{where}.containers")
    mounted: dict[str, str] = {}
    for index, mount in enumerate(spec.get("volumeMounts") or []):
        mount_path = str(mount.get("mountPath", ""))
        if mount_path in mounted:
            raise Invalid(
                f"{prefix}volumeMounts[{index}].mountPath '{mount_path}' already mounted in "
                f"{mounted[mount_path]}",
                f"{where}.volumeMounts[{index}].mountPath",
                "mount each volume at its own path",
            )
        mounted[mount_path] = f"volumeMounts.{mount.get('name', '')}"
    known = set(names)
    graph: dict[str, list[str]] = {}
    for index, container in enumerate(containers):
        for dep in (container or {}).get("dependencies") or []:
            if dep not in known:
                raise Invalid(
                    f"{prefix}containers.{names[index]} dependency '{dep}' not defined",
                    f"{where}.containers[{index}].dependencies",
                    f"depend on one of: {', '.join(names)}",
                )
        graph.setdefault(names[index], []).extend((container or {}).get("dependencies") or [])
    cycle = _container_cycle(graph)
    if cycle:
        raise Invalid(
            f"{prefix}containers {cycle}",
            f"{where}.containers",
            "a container cannot wait, even indirectly, for itself",
        )
