"""Argo's recorded statuses, reproduced node for node by running their specs locally.

Each case runs the recorded spec under the recorded workflow name (so node ids must match)
and compares, for every recorded node: name, id, type, boundaryID, children and phase.

What was made deterministic / what is compared, per example:

* dag-disable-fail-fast: ``cowsay`` → ``echo``, ``sleep 30`` → ``sleep 0.3``. All nodes and
  phases compared; children compared as sets (Argo 2019 appended B before C, we may not).
* dag-exhausted-retries-xfail: frozen mid-run (root DAG still Running): every node compared,
  the root's phase excepted (it ends Failed here).
* dag_retry_succeeded: ``exit $((RANDOM % 3))`` → fail while ``{{retries}} < 2``, as recorded
  (two failed attempts, then success). Root has no recorded phase.
* dag_xfail: frozen mid-run before D is decided: recorded nodes compared, root phase
  excepted, children may have grown (recorded ⊆ ours).
* steps-failed-retries: frozen while ``delayed-fail`` was Running: its phase and the root's,
  the step group's are excepted; all names/ids/types/boundaries/children compared.
* retry-omit (e2e 2020): the recorded run had ``should-execute-3`` fail; ``pass`` now exits 1
  only in that node (``$ARGO_NODE_ID``), so the full recorded graph, phases included, matches.
* optional-argument-and-parameter: frozen mid-run; recorded nodes compared (root/StepGroup
  phase excepted); the dangling child id must be the next step group, created here.
* optional-argument-use-subpath-in-loop: the unmerged ``subpath`` field is dropped; recorded
  nodes compared except phases of nodes still Running in the record.
* pr7156 scratch: hand-edited (metadata.name differs from the nodes' prefix): run under the
  nodes' name ``test-original``; the exit-handler node (``test-original.onExit``) compared.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from tests.local.conftest import ARGO, load_yaml, nodes_by_name

EXAMPLES = ARGO / "status-examples"
Mutator = Callable[[dict[str, Any]], None]


def _template(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in manifest["spec"]["templates"] if t["name"] == name)


def _cowsay_to_echo(manifest: dict[str, Any]) -> None:
    for template in manifest["spec"]["templates"]:
        container = template.get("container") or {}
        if container.get("command") == ["cowsay"]:
            container["command"] = ["echo"]
        if container.get("args") == ["sleep 30; echo haha"]:
            container["args"] = ["sleep 0.3; echo haha"]


def _retry_until_third(manifest: dict[str, Any]) -> None:
    _template(manifest, "randomly-fail")["container"]["args"] = ["[ {{retries}} -ge 2 ]"]


def _fail_only_should_execute_3(manifest: dict[str, Any]) -> None:
    _template(manifest, "pass")["container"]["command"] = [
        "sh",
        "-c",
        '[ "$ARGO_NODE_ID" != dag-diamond-8q7vp-3409397836 ]',
    ]


def _drop_subpath(manifest: dict[str, Any]) -> None:
    for template in manifest["spec"]["templates"]:
        for group in template.get("steps") or []:
            for step in group:
                for artifact in (step.get("arguments") or {}).get("artifacts") or []:
                    artifact.pop("subpath", None)


def _rename(name: str) -> Mutator:
    def mutate(manifest: dict[str, Any]) -> None:
        manifest["metadata"]["name"] = name

    return mutate


# (file, mutators, node names whose recorded phase is a mid-run snapshot, frozen?)
CASES: list[tuple[str, list[Mutator], set[str], bool]] = [
    ("controller-testdata__dag-disable-fail-fast.yaml", [_cowsay_to_echo], set(), False),
    ("controller-testdata__dag-exhausted-retries-xfail.yaml", [], {"retry-with-dags"}, True),
    (
        "controller-testdata__dag_retry_succeeded.yaml",
        [_retry_until_third],
        {"dag-with-retries-4wkh8"},
        False,
    ),
    ("controller-testdata__dag_xfail.yaml", [], {"dag-fail-r4gvc"}, True),
    (
        "controller-testdata__steps-failed-retries.yaml",
        [],
        {"failed-retries-tjjsc", "failed-retries-tjjsc[0]", "failed-retries-tjjsc[0].delayed-fail"},
        True,
    ),
    ("e2e-testdata-2020__retry-omit.yaml", [_fail_only_should_execute_3], set(), False),
    (
        "pr-controller-steps_test__optional-argument-and-parameter.yaml",
        [],
        {"optional-input-artifact-ctc82", "optional-input-artifact-ctc82[0]"},
        True,
    ),
    (
        "pr-controller-steps_test__optional-argument-use-subpath-in-loop.yaml",
        [_drop_subpath],
        {"artifact-passing-subpath-rx7f4"},
        True,
    ),
    ("pr7156-scratch__wf.yaml", [_rename("test-original")], set(), True),
]


def _strip_status(recorded: dict[str, Any]) -> dict[str, Any]:
    manifest = copy.deepcopy(recorded)
    manifest.pop("status", None)
    manifest.setdefault("apiVersion", "argoproj.io/v1alpha1")
    manifest.setdefault("kind", "Workflow")
    meta = manifest["metadata"]
    manifest["metadata"] = {"name": meta["name"]}
    return manifest


@pytest.mark.parametrize(
    ("filename", "mutators", "snapshot_phases", "frozen"), CASES, ids=[c[0] for c in CASES]
)
def test_reproduces_recorded_node_graph(
    backend: LocalBackend,
    filename: str,
    mutators: list[Mutator],
    snapshot_phases: set[str],
    frozen: bool,
) -> None:
    recorded = load_yaml(EXAMPLES / filename)
    manifest = _strip_status(recorded)
    for mutate in mutators:
        mutate(manifest)
    workflow = backend.run(manifest)
    ours = nodes_by_name(workflow)
    for expected in recorded["status"]["nodes"].values():
        name = expected["name"]
        assert name in ours, f"missing node {name}"
        got = ours[name]
        assert got["id"] == expected["id"], name
        assert got["type"] == expected["type"], name
        assert got.get("boundaryID") == expected.get("boundaryID"), name
        if name not in snapshot_phases and "phase" in expected:
            assert got["phase"] == expected["phase"], name
        recorded_children = set(expected.get("children") or [])
        our_children = set(got.get("children") or [])
        if frozen:
            assert recorded_children <= our_children, name
        else:
            assert our_children == recorded_children, name
    if not frozen:
        recorded_names = {n["name"] for n in recorded["status"]["nodes"].values()}
        assert set(ours) == recorded_names
        if recorded["status"].get("phase"):
            assert workflow["status"]["phase"] == recorded["status"]["phase"]


def test_dangling_child_of_recorded_snapshot_is_the_next_step_group(backend: LocalBackend) -> None:
    recorded = load_yaml(
        EXAMPLES / "pr-controller-steps_test__optional-argument-and-parameter.yaml"
    )
    workflow = backend.run(_strip_status(recorded))
    assert workflow["status"]["phase"] == "Succeeded"
    ours = nodes_by_name(workflow)
    assert (
        ours["optional-input-artifact-ctc82[1]"]["id"] == "optional-input-artifact-ctc82-933325693"
    )
    assert ours["optional-input-artifact-ctc82[1].print-artifact"]["phase"] == "Succeeded"


def test_root_outbound_nodes_match(backend: LocalBackend, tmp_path: Path) -> None:
    recorded = load_yaml(EXAMPLES / "e2e-testdata-2020__retry-omit.yaml")
    manifest = _strip_status(recorded)
    _fail_only_should_execute_3(manifest)
    workflow = backend.run(manifest)
    root = workflow["status"]["nodes"]["dag-diamond-8q7vp"]
    expected = recorded["status"]["nodes"]["dag-diamond-8q7vp"]["outboundNodes"]
    assert sorted(root["outboundNodes"]) == sorted(expected)
