"""DAG templates, as Argo's ``dag.go``: task readiness, depends logic, fan-out, phase.

``execute_dag`` runs one pass over a DAG node: every target task recursively pulls its
dependencies in, tasks whose dependencies are fulfilled are evaluated against their
``depends`` logic (Omitted when false), expanded (TaskGroup + ``task(i:item)`` children)
and executed; ``assess_dag_phase`` then decides the DAG's phase with Argo's BFS.

A task's scope is its ancestors' outputs; a Skipped or Omitted ancestor provides the outputs
its template declares (``skipped_outputs``, without artifacts as in Argo's DAGs).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.backends.local.expressions import (
    ExpressionError,
    TaskResults,
    depends_task_names,
    evaluate_depends,
    evaluate_when,
    expand_dependency,
)
from engine.backends.local.loops import ExpandedItem, expand_items, has_loop
from engine.backends.local.nodes import (
    COMPLETED_PHASES,
    FULFILLED_PHASES,
    Node,
    is_fulfilled,
    retry_node_children,
)
from engine.backends.local.scope import (
    AggregationError,
    aggregate_output_scope,
    inputs_scope,
    node_output_scope,
    resolve_references,
)

if TYPE_CHECKING:
    from engine.backends.local.operator import ExecOpts, WorkflowOperator

__all__ = ["DagContext", "assess_dag_phase", "execute_dag", "task_depends_logic"]


def task_depends_logic(task: dict[str, Any]) -> str:
    """A task's depends logic; ``dependencies: [A, B]`` means ``A && B``."""
    if task.get("depends"):
        return str(task["depends"])
    return " && ".join(str(dep) for dep in task.get("dependencies") or [])


def _continues_on(task: dict[str, Any], phase: str) -> bool:
    continue_on = task.get("continueOn") or {}
    return bool(
        (phase == "Failed" and continue_on.get("failed"))
        or (phase == "Error" and continue_on.get("error"))
    )


@dataclass(slots=True)
class DagContext:
    """Per-DAG-node facts that do not change between passes."""

    boundary_name: str
    boundary_id: str
    template: dict[str, Any]
    tasks: dict[str, dict[str, Any]]
    logic: dict[str, str]
    dependencies: dict[str, list[str]]
    targets: list[str]
    fail_fast: bool
    template_base: tuple[str, bool] | None = None
    """Where the tasks' plain template names resolve (``ExecOpts.template_base``)."""
    expanded: dict[str, list[ExpandedItem]] = field(default_factory=dict)
    ancestry: dict[str, list[str]] = field(default_factory=dict)
    templated: dict[str, bool] = field(default_factory=dict)
    hooked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Tasks with lifecycle hooks other than ``exit``, re-evaluated on every pass."""
    exit_hooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each task's exit hook (``hooks.exit`` or ``onExit``), for the tasks that have one."""
    inputs: dict[str, str] = field(default_factory=dict)
    """The DAG template's own inputs, in every task's scope (``inputs_scope``)."""

    def ancestors(self, task_name: str) -> list[str]:
        """Every task this one transitively depends on (Argo's ``GetTaskAncestry``)."""
        if task_name not in self.ancestry:
            found: list[str] = []
            stack = list(self.dependencies.get(task_name, []))
            while stack:
                dep = stack.pop()
                if dep in found or dep not in self.tasks:
                    continue
                found.append(dep)
                stack.extend(self.dependencies.get(dep, []))
            self.ancestry[task_name] = found
        return self.ancestry[task_name]

    def has_variables(self, task_name: str) -> bool:
        if task_name not in self.templated:
            self.templated[task_name] = "{{" in json.dumps(self.tasks[task_name])
        return self.templated[task_name]

    @classmethod
    def build(
        cls,
        boundary: Node,
        template: dict[str, Any],
        inputs_record: dict[str, Any],
        template_base: tuple[str, bool] | None,
    ) -> DagContext:
        spec = template["dag"]
        tasks = {t["name"]: t for t in spec.get("tasks") or []}
        logic = {name: task_depends_logic(task) for name, task in tasks.items()}
        dependencies = {name: depends_task_names(text) for name, text in logic.items()}
        if spec.get("target"):
            targets = str(spec["target"]).split()
        else:
            depended = {dep for deps in dependencies.values() for dep in deps}
            targets = sorted(name for name in tasks if name not in depended)
        return cls(
            boundary_name=boundary["name"],
            boundary_id=boundary["id"],
            template=template,
            tasks=tasks,
            logic=logic,
            dependencies=dependencies,
            targets=targets,
            fail_fast=spec.get("failFast") is not False,
            template_base=template_base,
            exit_hooks={
                name: hook for name, task in tasks.items() if (hook := _exit_hook(task)) is not None
            },
            hooked=[
                (name, task)
                for name, task in tasks.items()
                if any(key != "exit" for key in task.get("hooks") or {})
            ],
            inputs=inputs_scope(inputs_record),
        )

    def task_node_name(self, task_name: str) -> str:
        return f"{self.boundary_name}.{task_name}"


def execute_dag(
    op: WorkflowOperator,
    node_name: str,
    template: dict[str, Any],
    opts: ExecOpts,
    inputs_record: dict[str, Any],
) -> Node:
    node = op.open_boundary(node_name, "DAG", template, opts, inputs_record)
    if node["phase"] in FULFILLED_PHASES:
        return node
    ctx: DagContext | None = op.cache.get(f"dag:{node['id']}")
    if ctx is None:
        ctx = DagContext.build(node, template, inputs_record, opts.template_base)
        op.cache[f"dag:{node['id']}"] = ctx
    visited: set[str] = set()
    for task_name in ctx.targets:
        # Exit hooks start in executeDAGTask only; executeDAG just waits for them.
        _execute_dag_task(op, ctx, task_name, visited, opts)
    for task_name, task in ctx.hooked:
        task_node = op.get_node(ctx.task_node_name(task_name))
        if task_node is not None and task_node["type"] != "Skipped":
            try:
                scope = {
                    **_task_scope(op, ctx, ctx.ancestors(task_name)),
                    **_task_scope(op, ctx, [task_name]),
                }
            except AggregationError as exc:  # executeDAG marks the DAG node Error
                return op.mark_phase(node_name, "Error", str(exc))
            op.run_lifecycle_hooks(task["hooks"], task_node, ctx.boundary_id, scope)
    phase = assess_dag_phase(op, ctx, opts.on_exit)
    if phase == "Running":
        return node
    if phase in ("Failed", "Error"):
        _update_outbound(op, ctx, node)
        if op.cache.get(f"failfast:{node['id']}") or (
            template.get("failFast") is True and template.get("parallelism") is not None
        ):
            from engine.backends.local.operator import FAIL_FAST_MESSAGE

            return op.mark_phase(node_name, phase, FAIL_FAST_MESSAGE)
        return op.mark_phase(node_name, phase)
    try:
        outputs = op.template_outputs(template, _task_scope(op, ctx))
    except ExpressionError as exc:
        _update_outbound(op, ctx, node)
        return op.mark_phase(node_name, "Error", str(exc))
    if outputs:
        node["outputs"] = outputs
    _update_outbound(op, ctx, node)
    return op.mark_phase(node_name, "Succeeded")


def _exit_hook(task: dict[str, Any]) -> dict[str, Any] | None:
    hooks = task.get("hooks") or {}
    if "exit" in hooks:
        return dict(hooks["exit"])
    if task.get("onExit"):
        return {"template": task["onExit"]}
    return None


def _update_outbound(op: WorkflowOperator, ctx: DagContext, node: Node) -> None:
    outbound: list[str] = []
    for task_name in ctx.targets:
        task_node = op.get_node(ctx.task_node_name(task_name))
        if task_node is not None:
            outbound.extend(op.outbound_nodes(task_node["id"]))
    node["outboundNodes"] = outbound


def _task_results(op: WorkflowOperator, dep: Node) -> TaskResults:
    any_succeeded = False
    all_failed = False
    if dep["type"] == "TaskGroup":
        children = [op.nodes[c] for c in dep.get("children") or [] if c in op.nodes]
        all_failed = bool(children)
        for child in children:
            any_succeeded = any_succeeded or child["phase"] == "Succeeded"
            all_failed = all_failed and child["phase"] == "Failed"
    phase = dep["phase"]
    return TaskResults(
        succeeded=phase == "Succeeded",
        failed=phase == "Failed",
        errored=phase == "Error",
        skipped=phase == "Skipped",
        omitted=phase == "Omitted",
        daemoned=bool(dep.get("daemoned")) and phase != "Pending",
        any_succeeded=any_succeeded,
        all_failed=all_failed,
    )


def _evaluate_depends(op: WorkflowOperator, ctx: DagContext, task_name: str) -> tuple[bool, bool]:
    """(execute, proceed): proceed once every dependency, and every hook it started (its
    exit hook too), is fulfilled (``CheckAllHooksFullfilled``, workflow/common/util.go)."""
    results: dict[str, TaskResults] = {}
    for dep_name in ctx.dependencies[task_name]:
        dep = op.get_node(ctx.task_node_name(dep_name))
        if dep is None or not is_fulfilled(dep):
            return False, False
        children = (op.nodes[c] for c in dep.get("children") or [] if c in op.nodes)
        if any(
            (child.get("nodeFlag") or {}).get("hooked") and child["phase"] not in FULFILLED_PHASES
            for child in children
        ):
            return False, False
        results[dep_name] = _task_results(op, dep)

    def expand(name: str) -> str:
        task = ctx.tasks.get(name, {})
        continue_on = task.get("continueOn") or {}
        return expand_dependency(
            name, bool(continue_on.get("failed")), bool(continue_on.get("error"))
        )

    return evaluate_depends(ctx.logic[task_name], results, expand), True


def _connect_dependencies(
    op: WorkflowOperator, ctx: DagContext, task_name: str, child_name: str, group: Node | None
) -> None:
    dependencies = ctx.dependencies[task_name]
    if group is not None:
        op.add_child(group["name"], child_name)
    elif not dependencies:
        op.add_child(ctx.boundary_name, child_name)
    else:
        for dep_name in dependencies:
            dep = op.get_node(ctx.task_node_name(dep_name))
            if dep is None:
                continue
            for out_id in op.outbound_nodes(dep["id"]):
                op.add_child(op.nodes[out_id]["name"], child_name)


def _task_scope(
    op: WorkflowOperator, ctx: DagContext, task_names: list[str] | None = None
) -> dict[str, str | None]:
    """The ``tasks.X.*`` variables of ``task_names`` (every task when None), as Argo's
    ``buildLocalScopeFromTask`` gives them; None marks an absent optional."""
    scope: dict[str, str | None] = {}
    for task_name in ctx.tasks if task_names is None else task_names:
        task_node = op.get_node(ctx.task_node_name(task_name))
        if task_node is None:
            continue
        prefix = f"tasks.{task_name}"
        if task_node["type"] == "TaskGroup":
            children = [op.nodes[c] for c in task_node.get("children") or [] if c in op.nodes]
            scope.update(aggregate_output_scope(prefix, children))
            scope[f"{prefix}.status"] = task_node["phase"]
        else:
            scope.update(node_output_scope(prefix, task_node, op.artifact_owner(task_node)))
            task = ctx.tasks[task_name]
            scope.update(op.skipped_outputs(prefix, task_node, task, ctx.template_base, False))
    return scope


def _fanned_out(op: WorkflowOperator, ctx: DagContext, task_names: list[str]) -> list[str]:
    """Those of ``task_names`` whose node is a TaskGroup."""
    return [
        name
        for name in task_names
        if (op.get_node(ctx.task_node_name(name)) or {}).get("type") == "TaskGroup"
    ]


def _execute_dag_task(
    op: WorkflowOperator, ctx: DagContext, task_name: str, visited: set[str], opts: ExecOpts
) -> None:
    from engine.backends.local.operator import ExecOpts as Opts

    if task_name in visited:
        return
    visited.add(task_name)
    task = ctx.tasks[task_name]
    node_name = ctx.task_node_name(task_name)
    node = op.get_node(node_name)
    if node is not None and node["phase"] in FULFILLED_PHASES:
        hook = ctx.exit_hooks.get(task_name)
        if hook is not None:
            _exit_hook_done(op, hook, task_name, node, ctx)
        return
    group = node if node is not None and node["type"] == "TaskGroup" else None
    child_opts = Opts(
        boundary_id=ctx.boundary_id,
        on_exit=opts.on_exit,
        template_base=opts.template_base,
        holder_kind="tasks",
    )

    if ctx.logic[task_name]:
        # A task not fulfilled yet, even one whose pod runs, still visits its dependencies
        # (executeDAGTask): a daemon it depends on is retried once it fails.
        for dep_name in ctx.dependencies[task_name]:
            if dep_name in ctx.tasks:
                _execute_dag_task(op, ctx, dep_name, visited, opts)
    if node is not None and op.is_waiting_on_pod(node):
        return
    if node is None and ctx.logic[task_name]:
        try:
            execute, proceed = _evaluate_depends(op, ctx, task_name)
        except ExpressionError as exc:
            op.init_node(node_name, "Skipped", task.get("template"), child_opts, "Error", str(exc))
            _connect_dependencies(op, ctx, task_name, node_name, None)
            return
        if not proceed:
            return
        if not execute:
            op.init_node(
                node_name,
                "Skipped",
                task.get("template"),
                child_opts,
                "Omitted",
                "omitted: depends condition not met",
            )
            _connect_dependencies(op, ctx, task_name, node_name, None)
            return

    expanded = ctx.expanded.get(task_name)
    if expanded is None:
        try:
            if ctx.has_variables(task_name) or op.volumes_templated:
                # resolveDependencyReferences: the workflow's volumes, then the task.
                ancestors = _task_scope(op, ctx, ctx.ancestors(task_name))
                op.substitute_volumes(ancestors)
                resolved = resolve_references(task, {**op.global_scope, **ctx.inputs, **ancestors})
            else:
                # Argo builds every task's scope from its ancestors (buildLocalScopeFromTask);
                # of that, only a fanned-out ancestor's aggregate can fail.
                _task_scope(op, ctx, _fanned_out(op, ctx, ctx.ancestors(task_name)))
                resolved = dict(task)
            expanded = (
                expand_items(resolved) if has_loop(task) else [ExpandedItem(task_name, resolved)]
            )
        except ExpressionError as exc:
            op.init_node(node_name, "Skipped", task.get("template"), child_opts, "Error", str(exc))
            _connect_dependencies(op, ctx, task_name, node_name, None)
            return
        if has_loop(task):
            ctx.expanded[task_name] = expanded
    elif op.volumes_templated:
        with contextlib.suppress(ExpressionError):  # it resolved before, with the same scope
            op.substitute_volumes(_task_scope(op, ctx, ctx.ancestors(task_name)))

    if has_loop(task) and not expanded:
        # An empty list: the task is Skipped ("Skipped, empty params"), with no TaskGroup.
        if op.get_node(node_name) is None:
            op.init_node(
                node_name, "Skipped", task.get("template"), child_opts, "Skipped",
                "Skipped, empty params",
            )  # fmt: skip
            _connect_dependencies(op, ctx, task_name, node_name, None)
        return
    if has_loop(task) and group is None:
        _connect_dependencies(op, ctx, task_name, node_name, None)
        group = op.init_node(node_name, "TaskGroup", task.get("template"), child_opts, "Running")

    # Each expanded task's exit hook starts once it completes, and until that hook is done the
    # items after it are not visited (executeDAGTask's loop returns): a withItems task's hooks
    # run one item after another. The TaskGroup's own hook starts only when the group is
    # visited again, fulfilled (the branch at the top).
    hook = ctx.exit_hooks.get(task_name)
    for item in expanded:
        item_node_name = ctx.task_node_name(item.name)
        item_node = op.get_node(item_node_name)
        if item_node is not None and item_node["phase"] in FULFILLED_PHASES:
            if hook is not None and not _exit_hook_done(op, hook, task_name, item_node, ctx):
                return
            continue
        if item_node is not None and op.is_waiting_on_pod(item_node):
            continue
        if item_node is None:
            _connect_dependencies(op, ctx, task_name, item_node_name, group)
            try:
                proceed = evaluate_when(str(item.body.get("when", "")))
            except ExpressionError as exc:
                op.init_node(
                    item_node_name, "Skipped", task.get("template"), child_opts, "Error", str(exc)
                )
                continue
            if not proceed:
                op.init_node(
                    item_node_name,
                    "Skipped",
                    task.get("template"),
                    child_opts,
                    "Skipped",
                    f"when '{item.body.get('when')}' evaluated false",
                )
                continue
        arguments = item.body.get("arguments") or {}
        item_node, error = op.execute_template_err(item_node_name, item.body, arguments, child_opts)
        if error is not None:
            op.mark_phase(item_node_name, "Error", f"task '{item_node_name}' errored: {error}")
            return
        if (
            hook is not None
            and item_node is not None
            and not _exit_hook_done(op, hook, task_name, item_node, ctx)
        ):
            return

    if group is not None:
        group_phase = "Succeeded"
        for item in expanded:
            item_node = op.get_node(ctx.task_node_name(item.name))
            if item_node is None or not is_fulfilled(item_node):
                return
            if item_node["phase"] in ("Failed", "Error"):
                group_phase = item_node["phase"]
        op.mark_phase(group["name"], group_phase)


def _exit_hook_done(
    op: WorkflowOperator, hook: dict[str, Any], task_name: str, node: Node, ctx: DagContext
) -> bool:
    """Start ``node``'s exit hook once the node has completed (``runOnExitNode``); whether
    the DAG may go past it: no hook to run, or one that is fulfilled."""
    if node["phase"] not in COMPLETED_PHASES:
        return True
    scope = node_output_scope(f"tasks.{task_name}", node, op.artifact_owner(node))
    started, hook_node = op.run_on_exit_node(hook, node["name"], ctx.boundary_id, scope)
    return not started or (hook_node is not None and hook_node["phase"] in FULFILLED_PHASES)


def assess_dag_phase(op: WorkflowOperator, ctx: DagContext, on_exit: bool = False) -> str:
    """Argo's ``assessDAGPhase``: BFS from the DAG's children carrying a branch phase."""
    target_ids = {op.get_node_id(ctx.task_node_name(t)): t for t in ctx.targets}
    target_phases: dict[str, str] = {nid: "" for nid in target_ids}
    boundary = op.nodes[ctx.boundary_id]
    queue: list[tuple[str, str]] = [(c, "Succeeded") for c in boundary.get("children") or []]
    seen: set[tuple[str, str]] = set(queue)
    index = 0
    while index < len(queue):
        current_id, branch_phase = queue[index]
        index += 1
        node = op.nodes.get(current_id)
        if node is None or not is_fulfilled(node):
            # A child not there (yet) is still running: a memoized resubmit drops a Skipped
            # node, its parent keeps its id, and the node is made again.
            return "Running"
        if node["phase"] in COMPLETED_PHASES:
            branch_phase = node["phase"]
        if current_id in target_phases and target_phases[current_id] not in ("Failed", "Error"):
            target_phases[current_id] = branch_phase
        if node["type"] == "Retry":
            next_ids = retry_node_children(node, op.nodes)
        else:
            next_ids = node.get("children") or []
        for child_id in next_ids:
            entry = (child_id, branch_phase)
            if entry not in seen:
                seen.add(entry)
                queue.append(entry)

    result = "Succeeded"
    for task_name in ctx.targets:
        branch_phase = target_phases[op.get_node_id(ctx.task_node_name(task_name))]
        if branch_phase == "":
            result = "Running"
            if not ctx.fail_fast:
                break
        elif branch_phase in ("Failed", "Error"):
            if _continues_on(ctx.tasks[task_name], branch_phase):
                continue
            result = branch_phase
            if ctx.fail_fast:
                break
    stopped = not op.should_execute(on_exit) or bool(op.cache.get(f"failfast:{ctx.boundary_id}"))
    if stopped and not _any_unfulfilled(op, ctx):
        # Shut down: nothing new starts, so the DAG cannot succeed any more.
        return "Failed" if result in ("Running", "Succeeded") else result
    return result


def _any_unfulfilled(op: WorkflowOperator, ctx: DagContext) -> bool:
    return any(
        n.get("boundaryID") == ctx.boundary_id and n["phase"] not in FULFILLED_PHASES
        for n in op.nodes.values()
    )
