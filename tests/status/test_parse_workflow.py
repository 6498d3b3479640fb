"""engine.status against Argo's recorded statuses, a Drover-shaped status, and broken input."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

import pytest
import yaml

from engine.status import ScenarioCounts, diff, parse_workflow
from tests.argo_reference import ARGO_DIR

EXAMPLES = ARGO_DIR / "status-examples"

# (file, workflow phase, pods by phase, workers as {task path: (phase, attempts)})
RECORDED = {
    "controller-testdata__dag-disable-fail-fast.yaml": (
        "Failed",
        {"Failed": 2, "Succeeded": 4},
        {"A": ("Succeeded", 1), "B": ("Succeeded", 1), "C": ("Failed", 2), "D": ("Succeeded", 1)},
    ),
    "controller-testdata__dag-exhausted-retries-xfail.yaml": (
        "Running",
        {"Succeeded": 1, "Failed": 2},
        {"sub-dag1.fail": ("Failed", 2), "success1": ("Succeeded", 1)},
    ),
    "controller-testdata__dag_retry_succeeded.yaml": (
        "Pending",
        {"Failed": 2, "Succeeded": 1},
        {"step1": ("Succeeded", 3)},
    ),
    "controller-testdata__dag_xfail.yaml": (
        "Running",
        {"Failed": 1, "Succeeded": 2},
        {"A": ("Succeeded", 1), "C": ("Failed", 1)},
    ),
    "controller-testdata__steps-failed-retries.yaml": (
        "Running",
        {"Failed": 4},
        {"[0].fail": ("Failed", 2), "[0].delayed-fail": ("Running", 2)},
    ),
    "e2e-testdata-2020__retry-omit.yaml": (
        "Failed",
        {"Succeeded": 4, "Failed": 2},
        {"C": ("Failed", 1), "should-execute-3": ("Failed", 1)},
    ),
    "pr-controller-steps_test__optional-argument-and-parameter.yaml": ("Running", {}, {}),
    "pr-controller-steps_test__optional-argument-use-subpath-in-loop.yaml": (
        "Running",
        {"Succeeded": 1},
        {"[0].hello-world-to-file": ("Succeeded", 1)},
    ),
    "pr7156-scratch__wf.yaml": ("Failed", {"Succeeded": 1}, {"onExit": ("Succeeded", 1)}),
}


def test_every_recorded_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir()) == sorted(RECORDED)


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_status_parses(name: str) -> None:
    phase, pods, workers = RECORDED[name]
    state = parse_workflow(yaml.safe_load((EXAMPLES / name).read_text()))
    assert state.phase == phase
    assert state.pod_phases == pods
    for path, (worker_phase, attempts) in workers.items():
        worker = state.workers[(path, 0)]
        assert (worker.phase, worker.attempts) == (worker_phase, attempts)


def test_omitted_task_is_a_group_without_workers() -> None:
    state = parse_workflow(
        yaml.safe_load((EXAMPLES / "e2e-testdata-2020__retry-omit.yaml").read_text())
    )
    assert state.groups["should-not-execute"].phase == "Omitted"
    assert not [w for w in state.workers.values() if w.group == "should-not-execute"]


def _node(wf: str, name: str, kind: str, phase: str, **extra: Any) -> dict[str, Any]:
    full = f"{wf}.{name}" if name else wf
    node_id = wf if not name else f"{wf}-{abs(hash(full)) % 10**9}"
    return {"id": node_id, "name": full, "displayName": name, "type": kind, "phase": phase, **extra}


def drover_status() -> dict[str, Any]:
    """A mid-run Drover workflow: a fan-out group with a retried worker and a running one."""
    wf = "shop-abc12"
    summary = {
        "name": "summary",
        "value": json.dumps({"passed": 3, "failed": 1, "skipped": 0, "error": 0}),
    }
    nodes = [
        _node(wf, "", "DAG", "Running", templateName="main"),
        _node(wf, "storefront", "DAG", "Running", templateName="flow-storefront"),
        _node(wf, "storefront.smoke", "TaskGroup", "Running", templateName="worker"),
        _node(wf, "storefront.smoke(0:0)", "Retry", "Succeeded", outputs={"parameters": [summary]}),
        _node(wf, "storefront.smoke(0:0)(0)", "Pod", "Failed", templateName="worker"),
        _node(
            wf,
            "storefront.smoke(0:0)(1)",
            "Pod",
            "Succeeded",
            templateName="worker",
            outputs={"parameters": [summary]},
        ),
        _node(wf, "storefront.smoke(1:1)", "Retry", "Running", finishedAt=None),
        _node(wf, "storefront.smoke(1:1)(0)", "Pod", "Running", templateName="worker"),
        _node(wf, "storefront.catalog", "Skipped", "Omitted"),
    ]
    by_name = {n["name"]: n for n in nodes}
    by_name[f"{wf}.storefront.smoke(0:0)"]["children"] = [
        by_name[f"{wf}.storefront.smoke(0:0)(0)"]["id"],
        by_name[f"{wf}.storefront.smoke(0:0)(1)"]["id"],
    ]
    by_name[f"{wf}.storefront.smoke(1:1)"]["children"] = [
        by_name[f"{wf}.storefront.smoke(1:1)(0)"]["id"],
        "shop-abc12-missing-child",
    ]
    return {
        "metadata": {"name": wf, "uid": "u-1", "labels": {"drover.dev/run-id": "r1"}},
        "status": {
            "phase": "Running",
            "startedAt": "2026-01-01T00:00:00Z",
            "finishedAt": None,
            "nodes": {n["id"]: n for n in nodes},
        },
    }


def test_drover_groups_and_workers() -> None:
    state = parse_workflow(drover_status())
    assert state.labels["drover.dev/run-id"] == "r1"
    assert set(state.groups) == {"storefront.smoke", "storefront.catalog"}
    assert state.groups["storefront.catalog"].phase == "Omitted"
    first, second = state.workers[("storefront.smoke", 0)], state.workers[("storefront.smoke", 1)]
    assert (first.phase, first.attempts, first.summary) == (
        "Succeeded",
        2,
        ScenarioCounts(3, 1, 0, 0),
    )
    assert first.pod_name is not None and first.pod_name.startswith("shop-abc12-worker-")
    assert first.last_attempt_node_id is not None
    assert (second.phase, second.attempts, second.summary) == ("Running", 1, None)


def test_worker_pod_names_follow_the_workflows_pod_name_format_and_template_refs() -> None:
    """``GeneratePodName`` (workflow/util/pod_name.go): the node id under
    ``POD_NAMES=v1`` (the workflow's pod-name-format annotation), else ``<wf>-<template>-<hash>``
    where a referenced template's name (``templateRef.template``) stands for the template."""
    v2 = parse_workflow(drover_status()).workers[("storefront.smoke", 0)]
    v1_status = drover_status()
    v1_status["metadata"]["annotations"] = {"workflows.argoproj.io/pod-name-format": "v1"}
    v1 = parse_workflow(v1_status).workers[("storefront.smoke", 0)]
    assert v1.pod_name == v1.last_attempt_node_id
    referenced = drover_status()
    for node in referenced["status"]["nodes"].values():
        if node.get("templateName") == "worker":
            node["templateRef"] = {"name": "drover-worker", "template": "drover-worker"}
            del node["templateName"]
    by_ref = parse_workflow(referenced).workers[("storefront.smoke", 0)]
    assert v2.pod_name is not None and by_ref.pod_name is not None
    assert by_ref.pod_name == v2.pod_name.replace("-worker-", "-drover-worker-")


def test_compressed_nodes_read_like_plain_ones() -> None:
    plain = drover_status()
    compressed = copy.deepcopy(plain)
    nodes = compressed["status"].pop("nodes")
    compressed["status"]["compressedNodes"] = base64.b64encode(
        gzip.compress(json.dumps(nodes).encode())
    ).decode()
    assert parse_workflow(compressed) == parse_workflow(plain)


@pytest.mark.parametrize(
    "broken",
    [
        None,
        {},
        {"status": None},
        {"status": {"nodes": "not a map"}},
        {"status": {"compressedNodes": "%%% not base64"}},
        {"status": {"compressedNodes": base64.b64encode(b"not gzip").decode()}},
        {
            "metadata": {"name": 5},
            "status": {"nodes": {"x": {"type": "Alien", "phase": None}, "y": 3}},
        },
        {
            "status": {
                "nodes": {
                    "a": {
                        "type": "Retry",
                        "children": "nope",
                        "outputs": {"parameters": [{"name": "summary", "value": "{broken json"}]},
                    }
                }
            }
        },
        {
            "status": {
                "nodes": {
                    "a": {
                        "type": "Pod",
                        "name": "w.g(0:0)",
                        "outputs": {
                            "parameters": [
                                {"name": "summary", "value": '{"passed": -1, "failed": "x"}'}
                            ]
                        },
                    }
                }
            }
        },
    ],
)
def test_malformed_statuses_never_raise(broken: Any) -> None:
    state = parse_workflow(broken)
    assert state.phase


def test_diff_reports_only_changes() -> None:
    before = parse_workflow(drover_status())
    changed = drover_status()
    node = next(n for n in changed["status"]["nodes"].values() if n["name"].endswith("smoke(1:1)"))
    node["phase"] = "Succeeded"
    after = parse_workflow(changed)
    delta = diff(before, after)
    assert delta.run == {}
    assert [(w.group, w.shard, w.phase) for w in delta.workers] == [
        ("storefront.smoke", 1, "Succeeded")
    ]
    assert diff(after, after).empty
    assert not diff(None, after).empty
