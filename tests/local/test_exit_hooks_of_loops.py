"""Exit hooks of a task that fans out (``withItems``), as Argo's controller runs them.

A step group's children are the expanded steps, so ``executeStepGroup`` runs one hook per item.
A DAG's ``executeDAGTask`` starts each expanded task's hook as that task completes, and does not
go on to the items after it while that hook runs (its loop returns): the hooks run one after
another. The TaskGroup's own hook starts only when the group is visited again once fulfilled:
never for a target task (the DAG completes in the pass that fulfils the group), and for a task
something depends on, while that dependent runs (workflow/controller/dag.go, steps.go).
"""

from __future__ import annotations

from typing import Any

from engine.backends.local import LocalBackend
from tests.local.conftest import nodes_by_name, shell_template, stdout_of, workflow_manifest


def _run(backend: LocalBackend, body: dict[str, Any]) -> dict[str, Any]:
    hook = shell_template("h", "date +%s.%N; sleep 1; date +%s.%N")
    work = shell_template("a", "sleep {{inputs.parameters.seconds}}")
    work["inputs"] = {"parameters": [{"name": "seconds", "value": "0.1"}]}
    done = backend.run(workflow_manifest([{"name": "main", **body}, work, hook]))
    assert done["status"]["phase"] == "Succeeded"
    return done


def _hooks(done: dict[str, Any]) -> list[str]:
    name = done["metadata"]["name"]
    return sorted(
        n["name"][len(name) :]
        for n in done["status"]["nodes"].values()
        if n["name"].endswith(".onExit")
    )


def _fan_out(**task: Any) -> dict[str, Any]:
    """Two items, the first done at 0.1 s, the second at 0.6 s: while the first's hook runs."""
    return {
        "template": "a",
        "withItems": ["0.1", "0.6"],
        "arguments": {"parameters": [{"name": "seconds", "value": "{{item}}"}]},
        "hooks": {"exit": {"template": "h"}},
        **task,
    }


def test_a_step_with_items_runs_a_hook_per_item(backend: LocalBackend) -> None:
    done = _run(backend, {"steps": [[_fan_out(name="A")]]})
    assert _hooks(done) == ["[0].A(0:0.1).onExit", "[0].A(1:0.6).onExit"]


def test_a_target_task_with_items_runs_its_items_hooks_one_after_another(
    backend: LocalBackend,
) -> None:
    done = _run(backend, {"dag": {"tasks": [_fan_out(name="A")]}})
    assert _hooks(done) == [".A(0:0.1).onExit", ".A(1:0.6).onExit"]
    name = done["metadata"]["name"]
    nodes = nodes_by_name(done)
    first, second = (
        [float(t) for t in stdout_of(backend, nodes[f"{name}{hook}"]).split()]
        for hook in _hooks(done)
    )
    # The second item ended while the first's hook ran; its hook waited for that one's end.
    assert second[0] >= first[1]


def test_a_task_with_items_that_others_depend_on_also_hooks_its_group(
    backend: LocalBackend,
) -> None:
    tasks = [_fan_out(name="A"), {"name": "B", "template": "a", "depends": "A"}]
    done = _run(backend, {"dag": {"tasks": tasks}})
    assert _hooks(done) == [".A(0:0.1).onExit", ".A(1:0.6).onExit", ".A.onExit"]
