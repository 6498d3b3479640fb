"""Executions of many shapes compile to documents Argo accepts, with the DAG the spec implies."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workflow_reading import dag_tasks, templates, workflow_spec

from engine.compiler import CompileOptions, compile_plan
from engine.loading import parse_execution
from engine.planning import plan_execution
from tests.argo_reference import argo_errors

names = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5}){0,2}", fullmatch=True)


@st.composite
def executions(draw: st.DrawFn) -> dict[str, Any]:
    counter = iter(range(10**6))
    flow_names = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    flows = []
    for flow in flow_names:
        group_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
        groups = []
        for group in group_names:
            scenarios = [
                {
                    "id": f"tests/{flow}/test_{next(counter)}.py::case",
                    "duration": draw(st.none() | st.floats(0, 600)),
                }
                for _ in range(draw(st.integers(1, 12)))
            ]
            groups.append(
                {
                    "name": group,
                    "threads": draw(st.integers(1, 25)),
                    "strategy": draw(
                        st.sampled_from(
                            ["round-robin", "duration", "file", "tag", "fail-first", "queue"]
                        )
                    ),
                    "continue_on_failure": draw(st.booleans()),
                    "pod_retries": draw(st.integers(0, 3)),
                    "timeout": draw(st.none() | st.integers(60, 7200)),
                    "scenarios": scenarios,
                }
            )
        flows.append({"name": flow, "groups": groups})
    doc: dict[str, Any] = {
        "name": draw(names),
        "project": {
            "name": "proj",
            "repo": "https://example.com/p.git",
            "setup": draw(st.lists(st.text(min_size=1, max_size=20).filter(str.strip), max_size=2)),
        },
        "flows": flows,
        "workspace": {
            "mode": draw(st.sampled_from(["pvc", "artifact"])),
            "access_mode": draw(st.sampled_from(["ReadWriteOnce", "ReadWriteMany"])),
        },
        "test_data": draw(
            st.dictionaries(
                st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True),
                st.text(max_size=10)
                | st.integers()
                | st.just({"secret": {"name": "s", "key": "k"}}),
                max_size=3,
            )
        ),
        "limits": {
            "parallelism": draw(st.none() | st.integers(1, 50)),
            "priority": draw(st.none() | st.integers(-5, 5)),
        },
    }
    if draw(st.booleans()):
        doc["schedule"] = {
            "cron": draw(st.sampled_from([["0 * * * *"], ["*/5 1-3 * * 1-5", "@daily"]])),
            "concurrency_policy": draw(st.sampled_from(["Allow", "Forbid", "Replace"])),
        }
    return doc


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(executions())
def test_every_shape_compiles_to_valid_argo_documents(doc: dict[str, Any]) -> None:
    execution = parse_execution(doc)
    compiled = compile_plan(plan_execution(execution), CompileOptions(run_id="r-1"))
    workflow = compiled.workflow_dict()
    assert argo_errors(workflow) == []

    main = dag_tasks(workflow, "main")
    assert set(main) == {"setup-env", *(f.name for f in execution.flows)}
    for flow in execution.flows:
        tasks = dag_tasks(workflow, f"flow-{flow.name}")
        assert list(tasks) == [g.name for g in flow.groups]  # one task per group, in order
        for previous, group in zip(flow.groups, flow.groups[1:], strict=False):
            expected = (
                f"({previous.name}.Succeeded || {previous.name}.Failed || {previous.name}.Errored)"
                if previous.continue_on_failure
                else f"{previous.name}.Succeeded"
            )
            assert tasks[group.name]["depends"] == expected
        for group in flow.groups:
            threads = execution.effective(group).threads
            assert tasks[group.name]["withSequence"]["count"] == str(threads)
    assert workflow_spec(workflow)["onExit"] == "cleanup"
    assert len(templates(workflow)) <= 200
    for configmap in compiled.configmaps:
        assert len(json.dumps(configmap)) < 1024 * 1024
