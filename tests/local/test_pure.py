"""Unit tests of the pure core: node ids/names, expressions, variables, loops, depends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import engine.backends.local as local
from engine.backends.local.expressions import (
    ExpressionError,
    TaskResults,
    depends_task_names,
    evaluate_depends,
    evaluate_when,
    expand_dependency,
)
from engine.backends.local.loops import expand_items, sequence_items
from engine.backends.local.nodes import (
    display_name,
    fnv1a_32,
    last_attempt,
    node_id,
    retry_attempts,
    retry_node_children,
)
from engine.backends.local.retry import memoized_status
from engine.backends.local.validation import validate_workflow
from engine.backends.local.variables import substitute, unresolved
from engine.errors import SpecError


def test_node_ids_are_fnv1a_of_the_name_and_root_is_the_workflow_name() -> None:
    assert fnv1a_32("") == 0x811C9DC5
    assert node_id("dag-disable-fail-fast-r6xdc", "dag-disable-fail-fast-r6xdc.A") == (
        "dag-disable-fail-fast-r6xdc-3928436299"
    )
    assert node_id("wf", "wf") == "wf"


def test_a_retry_nodes_attempts_and_where_a_dag_goes_on_past_it() -> None:
    """``getChildNodeIdsRetried`` counts the children flagged retried; ``getRetryNodeChildrenIds``
    (both in workflow/controller/operator.go) gives, last child first, a hook child itself and
    every attempt's children, so a task that hangs off an earlier attempt is still reached."""
    nodes = {
        "r": {"id": "r", "children": ["a0", "hook", "a1"]},
        "a0": {"id": "a0", "nodeFlag": {"retried": True}, "children": ["next"]},
        "hook": {"id": "hook", "nodeFlag": {"hooked": True}, "children": ["under-hook"]},
        "a1": {"id": "a1", "nodeFlag": {"retried": True}},
    }
    assert retry_attempts(nodes["r"], nodes) == ["a0", "a1"]
    assert last_attempt(nodes["r"], nodes) is nodes["a1"]
    assert last_attempt({"id": "x", "children": ["hook"]}, nodes) is None
    assert retry_node_children(nodes["r"], nodes) == ["hook", "next"]


@pytest.mark.parametrize(
    ("name", "boundary", "expected"),
    [
        ("wf[0].step", "wf", "step"),
        ("wf[0]", "wf", "[0]"),
        ("wf.sub.fail(1)", "wf.sub", "fail(1)"),
        ("wf.onExit", None, "wf.onExit"),
    ],
)
def test_display_names(name: str, boundary: str | None, expected: str) -> None:
    assert display_name(name, boundary) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("heads == heads", True),
        ("tails == heads", False),
        ("Failed != Succeeded", True),
        ("5 > 3 && 'a' < 'b'", True),
        ("!(1 == 1) || false", False),
        ("'hello-world' =~ '^hello'", True),
        ("2 + 3 == 5", True),
        ("", True),
        # ``in`` over a parenthesised list (inStage, separatorStage), as in Argo's e2e
        # TestStepsWhenExprFilter; Go's == between interface values: 1 is not "1".
        ('"" in ("always","test","")', True),
        ("test in (always, test)", True),
        ('1 in ("1", 2)', False),
        ("b in (a, b) && 2 in (1, 2)", True),
    ],
)
def test_when_evaluates_like_govaluate(text: str, expected: bool) -> None:
    assert evaluate_when(text) is expected


def test_when_errors_are_clear() -> None:
    with pytest.raises(ExpressionError, match="Expected boolean"):
        evaluate_when("1 + 1")
    with pytest.raises(ExpressionError, match="Invalid 'when'"):
        evaluate_when("a == ")
    with pytest.raises(ExpressionError, match=r"Got \[true 2\]$"):  # Go's %v of the list
        evaluate_when("1 == 1, 2")
    with pytest.raises(ExpressionError, match="'in' needs a list"):
        evaluate_when('"x" in ("x")')  # one value in parentheses is no list in govaluate


def test_depends_logic() -> None:
    results = {
        "A": TaskResults(succeeded=True),
        "B": TaskResults(succeeded=True),
        "C": TaskResults(failed=True),
    }
    assert evaluate_depends("A && (C.Succeeded || C.Failed)", results)
    assert evaluate_depends("B || C", results)
    assert not evaluate_depends("B && C", results)
    assert not evaluate_depends("!A", results)
    assert evaluate_depends("C", results, lambda n: expand_dependency(n, True, False))
    assert depends_task_names("should-execute-2.Succeeded || should-not-execute") == [
        "should-execute-2",
        "should-not-execute",
    ]
    group = {"G": TaskResults(any_succeeded=True, failed=True)}
    assert evaluate_depends("G.AnySucceeded", group)
    with pytest.raises(ExpressionError, match="unknown task result"):
        evaluate_depends("A.Finished", results)


def test_substitution_keeps_unknown_tags() -> None:
    scope = {"inputs.parameters.x": "1"}
    assert substitute(
        "{{inputs.parameters.x}}-{{ inputs.parameters.x }}-{{workflow.foo}}", scope
    ) == ("1-1-{{workflow.foo}}")
    assert unresolved(["{{tasks.A.outputs.result}}", "{{workflow.name}}"]) == [
        "{{tasks.A.outputs.result}}"
    ]


def test_loop_expansion_names_like_argo() -> None:
    items = expand_items(
        {
            "name": "t",
            "withItems": [{"tag": "9.1", "image": "debian"}, "x"],
            "arguments": {"v": "{{item}}"},
        }
    )
    assert [i.name for i in items] == ["t(0:image:debian,tag:9.1)", "t(1:x)"]
    assert items[1].body["arguments"]["v"] == "x"
    # generateNodeName (operator.go) drops an item's own parentheses, index and all kept.
    bracketed = expand_items({"name": "s", "withItems": ["f(x)", {"k": "a(b)"}]})
    assert [i.name for i in bracketed] == ["s(0:fx)", "s(1:k:ab)"]
    assert sequence_items({"count": "3"}) == ["0", "1", "2"]
    assert sequence_items({"start": "5", "end": "3"}) == ["5", "4", "3"]
    assert sequence_items({"count": "2", "format": "w%02d"}) == ["w00", "w01"]
    with pytest.raises(ExpressionError, match="JSON list"):
        expand_items({"name": "t", "withParam": "not json"})


def test_validation_names_the_field() -> None:
    workflow = {"spec": {"entrypoint": "a", "templates": [{"name": "a", "resource": {}}]}}
    with pytest.raises(SpecError, match=r"spec\.templates\[0\]\.resource"):
        validate_workflow(workflow)
    workflow = {"spec": {"entrypoint": "a", "templates": [{"name": "a", "plugin": {"x": {}}}]}}
    with pytest.raises(SpecError, match=r"spec\.templates\[0\]\.plugin: not supported"):
        validate_workflow(workflow)
    template = {"name": "a", "container": {"image": "alpine", "args": ["{{=1}}"]}}
    validate_workflow({"spec": {"entrypoint": "a", "templates": [template]}})  # not refused


def test_retries_variable_is_not_checked_by_argo() -> None:
    """Argo's validator puts {{retries}} in scope only for templates with a retryStrategy, but
    checks only tags under item., steps., inputs., outputs., pod., workflow. and tasks.
    (``resolveAllVariables``, ``common.GlobalVarValidWorkflowVariablePrefix``): a bare
    {{retries}} elsewhere is accepted, and left as written."""
    template = {"name": "a", "container": {"image": "x", "args": ["--attempt", "{{ retries }}"]}}
    validate_workflow({"spec": {"entrypoint": "a", "templates": [template]}})


def test_exported_members() -> None:
    assert sorted(local.__all__) == local.__all__
    for name in local.__all__:
        assert hasattr(local, name)


def test_dangling_pod_tmp_links_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    from engine.backends.local.runtime import sweep_tmp_links

    live_target = tmp_path / "pod" / "tmp"
    live_target.mkdir(parents=True)
    (tmp_path / "drover-0123456789ab").symlink_to(live_target)
    (tmp_path / "drover-ba9876543210").symlink_to(tmp_path / "killed-pod" / "tmp")  # dangling
    (tmp_path / "drover-other").symlink_to(tmp_path / "gone")  # not a pod link: not ours
    (tmp_path / "drover-bench-home").mkdir()

    assert sweep_tmp_links(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "drover-0123456789ab",
        "drover-bench-home",
        "drover-other",
        "pod",
    ]


def test_the_accepted_fields_are_argos_own() -> None:
    """The field lists the validation holds are those of Argo's JSON schema: anything else is
    refused as unknown, as ``argo submit --strict`` refuses it."""
    from engine.backends.local import validation
    from tests.argo_reference import ARGO_DIR

    schema = json.loads((ARGO_DIR / "schema.json").read_text())
    definitions = schema["definitions"]

    def argo(kind: str) -> set[str]:
        return set(definitions[f"io.argoproj.workflow.v1alpha1.{kind}"]["properties"])

    assert argo("WorkflowSpec") == validation._SPEC_FIELDS
    assert argo("Template") == validation._TEMPLATE_FIELDS
    assert argo("DAGTask") == validation._TASK_FIELDS
    assert argo("WorkflowStep") == argo("DAGTask") - {"dependencies", "depends"}


def test_a_field_argo_does_not_have_is_unknown() -> None:
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "w"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"command": ["true"]}, "hooks": {}}],
        },
    }
    with pytest.raises(SpecError, match=r"templates\[0\]\.hooks: unknown field: Argo's Template"):
        validate_workflow(workflow)


def test_a_memoized_resubmit_status_is_argos_formulate_resubmit_workflow() -> None:
    """``FormulateResubmitWorkflow`` (workflow/util/util.go): a pod that did not fail is
    Skipped with "original pod: <old id>", a failed pod Pending with no start, other nodes
    Pending from ``now``; a Skipped node with no Succeeded node below it and the workflow's
    exit handler are left out, their ids kept where a parent lists them."""

    def node(name: str, kind: str, phase: str, *children: str, **more: Any) -> dict[str, Any]:
        return {
            "id": node_id("old", name), "name": name, "displayName": name, "type": kind,
            "phase": phase, "startedAt": "2020-01-01T00:00:00Z",
            "finishedAt": "2020-01-01T00:00:01Z", "message": "was",
            "children": [node_id("old", c) for c in children], "boundaryID": "old", **more,
        }  # fmt: skip

    listed = [
        node("old", "DAG", "Failed", "old.A", "old.W", outboundNodes=[node_id("old", "old.C")]),
        node("old.A", "Pod", "Succeeded", "old.B", outputs={"result": "a"}),
        node("old.B", "Pod", "Failed", "old.C"),
        node("old.C", "Skipped", "Omitted"),
        node("old.W", "Skipped", "Skipped", "old.X"),
        node("old.X", "Pod", "Succeeded"),
        node("old.onExit", "Pod", "Succeeded"),
    ]
    old = {"metadata": {"name": "old"}, "status": {"nodes": {n["id"]: n for n in listed}}}
    status = memoized_status(old, "new", "2030-01-01T00:00:00Z")
    assert status["phase"] == "Pending"
    assert status["conditions"] == [{"type": "Completed", "status": "False"}]
    nodes = {n["name"]: n for n in status["nodes"].values()}
    assert sorted(nodes) == ["new", "new.A", "new.B", "new.W", "new.X"]
    assert all(n["id"] == node_id("new", name) for name, n in nodes.items())
    a, b = nodes["new.A"], nodes["new.B"]
    assert (a["type"], a["phase"], a["message"]) == (
        "Skipped",
        "Skipped",
        f"original pod: {node_id('old', 'old.A')}",
    )
    assert a["outputs"] == {"result": "a"} and a["children"] == [b["id"]]
    assert a["startedAt"] == a["finishedAt"] == "2030-01-01T00:00:00Z"
    assert (b["type"], b["phase"]) == ("Pod", "Pending")
    assert b["startedAt"] is None and b["finishedAt"] is None
    assert "message" not in b and b["children"] == [node_id("new", "new.C")]  # C is made again
    for kept in (nodes["new"], nodes["new.W"]):  # W: a Succeeded node below it
        assert (kept["phase"], kept["finishedAt"]) == ("Pending", "2030-01-01T00:00:00Z")
    assert nodes["new"]["displayName"] == "old"  # Argo leaves display names as they were
    assert nodes["new"]["outboundNodes"] == [node_id("new", "new.C")]
    assert nodes["new.X"]["boundaryID"] == "new"  # the root's id is the workflow's name
