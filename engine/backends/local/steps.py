"""Steps templates, as Argo's ``steps.go``: step groups run one after another.

A Steps node has a StepGroup child ``name[i]`` per group; the steps of a group run in
parallel (``name[i].step``, fanned out as ``name[i].step(j:item)``), and each group hangs off
the outbound nodes of the previous one. A group fails when a child fails without
``continueOn``; the Steps node then fails with the group's message.

Later groups see the earlier steps' outputs; a Skipped step provides the outputs its template
declares (``skipped_outputs``, artifacts included as in Argo's steps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.backends.local.expressions import ExpressionError, evaluate_when
from engine.backends.local.loops import expand_items, has_loop
from engine.backends.local.nodes import COMPLETED_PHASES, FULFILLED_PHASES, Node, is_fulfilled
from engine.backends.local.scope import (
    AggregationError,
    aggregate_output_scope,
    inputs_scope,
    node_output_scope,
    resolve_references,
)

if TYPE_CHECKING:
    from engine.backends.local.operator import ExecOpts, WorkflowOperator

__all__ = ["execute_steps"]


def _continues_on(step: dict[str, Any], phase: str) -> bool:
    continue_on = step.get("continueOn") or {}
    return bool(
        (phase == "Failed" and continue_on.get("failed"))
        or (phase == "Error" and continue_on.get("error"))
    )


def _exit_hook(step: dict[str, Any]) -> dict[str, Any] | None:
    hooks = step.get("hooks") or {}
    if "exit" in hooks:
        return dict(hooks["exit"])
    if step.get("onExit"):
        return {"template": step["onExit"]}
    return None


def execute_steps(
    op: WorkflowOperator,
    node_name: str,
    template: dict[str, Any],
    opts: ExecOpts,
    inputs_record: dict[str, Any],
) -> Node:
    node = op.open_boundary(node_name, "Steps", template, opts, inputs_record)
    if node["phase"] in FULFILLED_PHASES:
        return node
    scope: dict[str, str | None] = {**inputs_scope(inputs_record)}
    groups = template.get("steps") or []
    for index, group in enumerate(groups):
        sg_name = f"{node_name}[{index}]"
        sg = op.get_node(sg_name)
        if sg is None:
            sg = op.init_node(
                sg_name, "StepGroup", template.get("name"), _child_opts(node, opts), "Running"
            )
        if index == 0:
            op.add_child(node_name, sg_name)
        else:
            previous = op.get_node(f"{node_name}[{index - 1}]")
            assert previous is not None
            if not previous.get("children"):
                op.add_child(previous["name"], sg_name)
            for child_id in previous.get("children") or []:
                for out_id in op.outbound_nodes(child_id):
                    op.add_child(op.nodes[out_id]["name"], sg_name)
        sg = _execute_step_group(op, list(group or []), sg_name, node, scope, opts)
        if sg["phase"] not in FULFILLED_PHASES:
            return node
        if sg["phase"] in ("Failed", "Error"):
            _update_outbound(op, node, index)
            message = sg.get("message", "")
            if op.cache.get(f"failfast:{node['id']}") or _fails_fast(template):
                from engine.backends.local.operator import FAIL_FAST_MESSAGE

                message = FAIL_FAST_MESSAGE
            return op.mark_phase(node_name, "Failed", message)
        try:
            for step in group or []:
                scope.update(_step_scope(op, sg_name, step, opts.template_base))
        except AggregationError as exc:  # executeSteps returns it: the steps node errors
            return op.mark_phase(node_name, "Error", str(exc))
    try:
        outputs = op.template_outputs(template, scope)
    except ExpressionError as exc:
        _update_outbound(op, node, len(groups) - 1)
        return op.mark_phase(node_name, "Error", str(exc))
    if outputs:
        node["outputs"] = outputs
    _update_outbound(op, node, len(groups) - 1)
    return op.mark_phase(node_name, "Succeeded")


def _fails_fast(template: dict[str, Any]) -> bool:
    return template.get("failFast") is True and template.get("parallelism") is not None


def _plain_name(step: dict[str, Any]) -> str:
    """A fanned-out step's name without its ``(i:item)`` suffix."""
    name = str(step["name"])
    return name.split("(", 1)[0] if name.endswith(")") else name


def _child_opts(steps_node: Node, opts: ExecOpts) -> ExecOpts:
    from engine.backends.local.operator import ExecOpts as Opts

    return Opts(
        boundary_id=steps_node["id"],
        on_exit=opts.on_exit,
        template_base=opts.template_base,
        holder_kind="steps",
    )


def _update_outbound(op: WorkflowOperator, node: Node, last_index: int) -> None:
    if last_index < 0:
        node["outboundNodes"] = []
        return
    last_group = op.get_node(f"{node['name']}[{last_index}]")
    if last_group is None:
        return
    outbound: list[str] = []
    for child_id in last_group.get("children") or []:
        outbound.extend(op.outbound_nodes(child_id))
    node["outboundNodes"] = outbound or [last_group["id"]]


def _step_scope(
    op: WorkflowOperator, sg_name: str, step: dict[str, Any], base: tuple[str, bool] | None
) -> dict[str, str | None]:
    """The ``steps.X.*`` variables of a finished step (Argo's ``executeSteps``): its node's
    outputs, or its template's declared ones when it was Skipped; a fanned-out step's
    aggregate when it has no node of its own."""
    prefix = f"steps.{step['name']}"
    child_name = f"{sg_name}.{step['name']}"
    child = op.get_node(child_name)
    scope: dict[str, str | None] = {}
    if child is None and has_loop(step):
        group = op.get_node(sg_name) or {}
        children = [
            n
            for n in (op.nodes[c] for c in group.get("children") or [] if c in op.nodes)
            if n["name"].startswith(child_name + "(") and n.get("type") != "Skipped"
        ]
        scope.update(aggregate_output_scope(prefix, children))
    elif child is not None:
        scope.update(node_output_scope(prefix, child, op.artifact_owner(child)))
        scope.update(op.skipped_outputs(prefix, child, step, base, True))
    return scope


def _execute_step_group(
    op: WorkflowOperator,
    group: list[dict[str, Any]],
    sg_name: str,
    steps_node: Node,
    scope: dict[str, str | None],
    opts: ExecOpts,
) -> Node:
    sg = op.get_node(sg_name)
    assert sg is not None
    if sg["phase"] in FULFILLED_PHASES:
        return sg
    child_opts = _child_opts(steps_node, opts)
    try:  # resolveReferences: the workflow's volumes first
        op.substitute_volumes(scope)
    except ExpressionError as exc:
        return op.mark_phase(sg_name, "Error", str(exc))
    cache_key = f"stepgroup:{sg['id']}"
    expanded: list[dict[str, Any]] | None = op.cache.get(cache_key)
    if expanded is None:
        expanded = []
        full_scope = {**op.global_scope, **scope}
        for step in group:
            try:
                resolved = resolve_references(step, full_scope)
            except ExpressionError as exc:
                return op.mark_phase(sg_name, "Error", f"failed to resolve references: {exc}")
            if not has_loop(step):
                expanded.append(resolved)
                continue
            try:
                items = expand_items(resolved)
            except ExpressionError as exc:
                return op.mark_phase(sg_name, "Error", str(exc))
            if not items:
                child_name = f"{sg_name}.{step['name']}"
                if op.get_node(child_name) is None:
                    op.init_node(
                        child_name,
                        "Skipped",
                        step.get("template"),
                        child_opts,
                        "Skipped",
                        "Skipped, empty params",
                    )
                op.add_child(sg_name, child_name)
            expanded.extend(item.body for item in items)
        op.cache[cache_key] = expanded

    steps_by_node: dict[str, dict[str, Any]] = {}
    for step in expanded:
        child_name = f"{sg_name}.{step['name']}"
        steps_by_node[op.get_node_id(child_name)] = step
        existing = op.get_node(child_name)
        if existing is not None and (
            existing["phase"] in FULFILLED_PHASES or op.is_waiting_on_pod(existing)
        ):
            continue
        try:
            proceed = evaluate_when(str(step.get("when", "")))
        except ExpressionError as exc:
            if existing is None:
                op.init_node(
                    child_name, "Skipped", step.get("template"), child_opts, "Error", str(exc)
                )
            op.add_child(sg_name, child_name)
            return op.mark_phase(sg_name, "Error", str(exc))
        if not proceed:
            if existing is None:
                op.init_node(
                    child_name,
                    "Skipped",
                    step.get("template"),
                    child_opts,
                    "Skipped",
                    f"when '{step.get('when')}' evaluated false",
                )
                op.add_child(sg_name, child_name)
            continue
        arguments = step.get("arguments") or {}
        child, error = op.execute_template_err(child_name, step, arguments, child_opts)
        if error is not None:
            op.add_child(sg_name, child_name)
            message = f"step group deemed errored due to child {child_name} error: {error}"
            return op.mark_phase(sg_name, "Error", message)
        if child is not None:
            op.add_child(sg_name, child_name)

    completed = True
    for child_id in sg.get("children") or []:
        child = op.nodes[child_id]
        step = steps_by_node.get(child_id, {})
        if step.get("hooks") and child["type"] != "Skipped":
            scope_of_step = node_output_scope(
                f"steps.{_plain_name(step)}", child, op.artifact_owner(child)
            )
            if not op.run_lifecycle_hooks(step["hooks"], child, steps_node["id"], scope_of_step):
                completed = False
        if not is_fulfilled(child):
            completed = False
        elif child["phase"] in COMPLETED_PHASES and child_id in steps_by_node:
            hook_scope = node_output_scope(f"steps.{step['name']}", child)
            has_hook, hook_node = op.run_on_exit_node(
                _exit_hook(step), child["name"], steps_node["id"], hook_scope
            )
            if has_hook and (hook_node is None or hook_node["phase"] not in FULFILLED_PHASES):
                completed = False
    if len(sg.get("children") or []) < len(
        {op.get_node_id(f"{sg_name}.{s['name']}") for s in expanded}
    ) and not op.cache.get(f"failfast:{steps_node['id']}"):
        completed = False
    if not completed:
        return sg
    for child_id in sg.get("children") or []:
        child = op.nodes[child_id]
        step = steps_by_node.get(child_id, {})
        if child["phase"] in ("Failed", "Error") and not _continues_on(step, child["phase"]):
            return op.mark_phase(sg_name, "Failed", f"child '{child_id}' failed")
    if not op.should_execute(opts.on_exit):
        return op.mark_phase(sg_name, "Failed", op.shutdown_message())
    return op.mark_phase(sg_name, "Succeeded")
