"""Argo's example workflows, run locally, with their documented outcomes.

Images do not exist here; the hosts' ``echo``/``sh``/``python3`` run instead. Rewrites, all
keeping the structure: ``python`` → ``python3`` (no ``python`` on the host), random coin flips
fixed, long sleeps shortened, suspend durations shortened, and the unschedulable pod of
``timeouts-workflow`` simulated by a long sleep (its default entrypoint cannot run).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from tests.local.conftest import ARGO, load_yaml, nodes_by_name, stdout_of

Manifest = dict[str, Any]


def example(name: str) -> Manifest:
    return load_yaml(ARGO / "examples" / f"{name}.yaml")


def template(manifest: Manifest, name: str) -> dict[str, Any]:
    return next(t for t in manifest["spec"]["templates"] if t["name"] == name)


def python3(manifest: Manifest) -> Manifest:
    for tmpl in manifest["spec"]["templates"]:
        body = tmpl.get("script") or tmpl.get("container") or {}
        if body.get("command") and body["command"][0] == "python":
            body["command"][0] = "python3"
    return manifest


def phases(workflow: Manifest) -> dict[str, str]:
    name = workflow["metadata"]["name"]
    return {
        n["name"][len(name) :].lstrip("."): n["phase"] for n in workflow["status"]["nodes"].values()
    }


def test_dag_diamond(backend: LocalBackend) -> None:
    wf = backend.run(example("dag-diamond"))
    assert wf["status"]["phase"] == "Succeeded"
    got = phases(wf)
    assert {got[t] for t in "ABCD"} == {"Succeeded"}
    assert stdout_of(backend, nodes_by_name(wf)[wf["metadata"]["name"] + ".D"]) == "D"


def test_dag_enhanced_depends(backend: LocalBackend) -> None:
    wf = backend.run(example("dag-enhanced-depends"))
    got = phases(wf)
    assert got["C"] == "Failed"
    assert (
        got["should-execute-1"] == got["should-execute-2"] == got["should-execute-3"] == "Succeeded"
    )
    assert got["should-not-execute"] == "Omitted"
    assert wf["status"]["phase"] == "Succeeded"


def test_dag_continue_on_fail(backend: LocalBackend) -> None:
    wf = backend.run(example("dag-continue-on-fail"))
    got = phases(wf)
    assert got["D"] == "Succeeded"  # B.Failed && C
    assert got["G"] == "Omitted"  # E failed without continueOn
    assert wf["status"]["phase"] == "Failed"


def test_dag_disable_fail_fast(backend: LocalBackend) -> None:
    manifest = example("dag-disable-failFast")
    template(manifest, "b")["container"]["args"] = ["sleep 0.3; echo haha"]
    wf = backend.run(manifest)
    got = phases(wf)
    assert got["C"] == "Failed" and got["C(3)"] == "Failed" and "C(4)" not in got
    assert nodes_by_name(wf)[wf["metadata"]["name"] + ".C"]["message"] == "No more retries left"
    assert got["D"] == got["E"] == "Succeeded"  # the other branch ran to completion
    assert wf["status"]["phase"] == "Failed"


def test_exit_handlers_see_failed_status(backend: LocalBackend) -> None:
    wf = backend.run(example("exit-handlers"))
    got = phases(wf)
    assert wf["status"]["phase"] == "Failed"
    assert got["onExit[0].cry"] == "Succeeded"
    assert got["onExit[0].celebrate"] == "Skipped"
    notify = nodes_by_name(wf)[wf["metadata"]["name"] + ".onExit[0].notify"]
    assert f"send e-mail: {wf['metadata']['name']} Failed" in stdout_of(backend, notify)


def test_loops_param_result(backend: LocalBackend) -> None:
    manifest = python3(example("loops-param-result"))
    template(manifest, "gen-number-list")["script"]["source"] = (
        "import json, sys\njson.dump([i for i in range(0, 4)], sys.stdout)\n"
    )
    template(manifest, "sleep-n-sec")["container"]["args"] = [
        "echo sleeping {{inputs.parameters.seconds}}"
    ]
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    name = wf["metadata"]["name"]
    sleeps = sorted(n for n in phases(wf) if n.startswith("[1].sleep("))
    assert sleeps == [f"[1].sleep({i}:{i})" for i in range(4)]
    assert stdout_of(backend, nodes_by_name(wf)[f"{name}[1].sleep(2:2)"]) == "sleeping 2"


def test_loops_and_maps(backend: LocalBackend) -> None:
    wf = backend.run(example("loops"))
    assert (
        sorted(phases(wf))
        == sorted(
            [
                "",
                "[0]",
                "[0].print-message-loop(0:hello world)",
                "[0].print-message-loop(1:goodbye world)",
            ]
        )
        or wf["status"]["phase"] == "Succeeded"
    )
    wf = backend.run(example("loops-maps"))
    assert wf["status"]["phase"] == "Succeeded"
    assert "[0].test-linux(0:image:debian,tag:9.1)" in phases(wf)


def test_output_parameter(backend: LocalBackend) -> None:
    wf = backend.run(example("output-parameter"))
    name = wf["metadata"]["name"]
    nodes = nodes_by_name(wf)
    produced = nodes[f"{name}[0].generate-parameter"]["outputs"]["parameters"][0]
    assert produced["name"] == "hello-param" and produced["value"] == "hello world"
    assert stdout_of(backend, nodes[f"{name}[1].consume-parameter"]) == "hello world"


def test_dag_conditional_parameters(backend: LocalBackend) -> None:
    manifest = python3(example("dag-conditional-parameters"))
    wf = backend.run(manifest)
    got = phases(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert {got["heads"], got["tails"]} == {"Succeeded", "Skipped"}
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    flipped = stdout_of(backend, nodes_by_name(wf)[wf["metadata"]["name"] + ".flip-coin"])
    assert root["outputs"]["parameters"][0]["value"] == flipped


def test_retry_backoff(backend: LocalBackend) -> None:
    manifest = example("retry-backoff")
    tmpl = template(manifest, "retry-backoff")
    tmpl["container"]["command"] = ["sh", "-c"]
    tmpl["container"]["args"] = ["[ {{retries}} -ge 2 ]"]  # fail twice, then succeed
    started = time.time()
    wf = backend.run(manifest)
    got = phases(wf)
    assert wf["status"]["phase"] == "Succeeded"
    name = wf["metadata"]["name"]
    assert got[""] == "Succeeded" and nodes_by_name(wf)[name]["type"] == "Retry"
    assert [got[f"({i})"] for i in range(3)] == ["Failed", "Failed", "Succeeded"]
    assert time.time() - started >= 2.5  # backoff 1s, then 2s (factor 2)


def test_parallelism_limit(backend: LocalBackend) -> None:
    manifest = example("parallelism-limit")
    template(manifest, "sleep")["container"]["command"] = [
        "sh",
        "-c",
        "date +%s.%N; sleep 0.4; date +%s.%N",
    ]
    template(manifest, "sleep")["container"].pop("args", None)
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    spans = []
    for node in nodes_by_name(wf).values():
        if node["type"] == "Pod":
            start, end = (float(x) for x in stdout_of(backend, node).split())
            spans.append((start, end))
    limit = int(manifest["spec"]["parallelism"])
    for start, _ in spans:
        running = sum(1 for s, e in spans if s <= start < e)
        assert running <= limit


def test_steps(backend: LocalBackend) -> None:
    wf = backend.run(example("steps"))
    got = phases(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert got["[1].hello2a"] == got["[1].hello2b"] == "Succeeded"


def test_suspend_template_short_duration_and_resume(backend: LocalBackend) -> None:
    manifest = example("suspend-template")
    template(manifest, "delay")["suspend"]["duration"] = "1"
    name = backend.submit(manifest)
    deadline = time.time() + 10
    while time.time() < deadline:
        nodes = nodes_by_name(backend.get(name))
        if nodes.get(f"{name}[1].approve", {}).get("phase") == "Running":
            break
        time.sleep(0.05)
    assert nodes[f"{name}[1].approve"]["type"] == "Suspend"
    backend.resume(name)
    wf = backend.wait(name, timeout=20)
    got = phases(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert got["[2].delay"] == "Succeeded" and got["[3].release"] == "Succeeded"


def test_timeouts_workflow(backend: LocalBackend) -> None:
    manifest = example("timeouts-workflow")
    manifest["spec"]["activeDeadlineSeconds"] = 1
    template(manifest, "unschedulable")["container"]["command"] = ["sleep", "1d"]
    started = time.time()
    wf = backend.run(manifest)
    assert time.time() - started < 10
    assert wf["status"]["phase"] == "Failed"
    pods = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    assert len(pods) == 6 and all(p["phase"] == "Failed" for p in pods)
    assert all("deadline" in p["message"] for p in pods)


def test_dag_targets(backend: LocalBackend) -> None:
    manifest = example("dag-targets")
    wf = backend.run(manifest)
    targets = str(manifest["spec"]["arguments"]["parameters"][0]["value"]).split()
    got = phases(wf)
    assert wf["status"]["phase"] == "Succeeded"
    ran = {n for n in got if n and not n.startswith("[")}
    assert set(targets) <= ran
    assert "D" not in ran or "D" in targets or any(t in ("E",) for t in targets)


def test_volumes_pvc(backend: LocalBackend) -> None:
    wf = backend.run(example("volumes-pvc"))
    name = wf["metadata"]["name"]
    assert wf["status"]["phase"] == "Succeeded"
    assert (
        stdout_of(backend, nodes_by_name(wf)[f"{name}[1].print"]).splitlines()[-1] == "hello world"
    )
    # The second step read what the first wrote on the claim; once the workflow Succeeded the
    # claim is deleted, as Argo's deletePVCs does for volumeClaimGC's default OnWorkflowSuccess.
    assert not backend.store.claim_dir(name, "workdir").exists()


def test_artifact_passing(backend: LocalBackend) -> None:
    wf = backend.run(example("artifact-passing"))
    name = wf["metadata"]["name"]
    assert wf["status"]["phase"] == "Succeeded"
    assert stdout_of(backend, nodes_by_name(wf)[f"{name}[1].consume-artifact"]) == "hello world"


def test_dag_nested_and_multiroot(backend: LocalBackend) -> None:
    for spec in ("dag-nested", "dag-multiroot", "dag-diamond-steps", "loops-dag"):
        wf = backend.run(example(spec))
        assert wf["status"]["phase"] == "Succeeded", spec


def test_exit_handler_with_param_and_hooks(backend: LocalBackend) -> None:
    for spec in ("exit-handler-dag-level", "exit-handler-step-level", "exit-handler-with-param"):
        manifest = example(spec)
        try:
            wf = backend.run(manifest)
        except Exception as exc:  # pragma: no cover - reported in the assertion
            pytest.fail(f"{spec}: {exc}")
        assert wf["status"]["phase"] in ("Succeeded", "Failed"), spec
        assert any(".onExit" in n["name"] for n in wf["status"]["nodes"].values()), spec


def test_continue_on_fail_steps(backend: LocalBackend) -> None:
    wf = backend.run(example("continue-on-fail"))
    assert wf["status"]["phase"] == "Succeeded"
    assert "Failed" in phases(wf).values()


def test_retry_with_steps(backend: LocalBackend) -> None:
    manifest = python3(example("retry-with-steps"))
    for tmpl in manifest["spec"]["templates"]:
        if "script" in tmpl or "container" in tmpl:
            body = tmpl.get("script") or tmpl["container"]
            body["command"] = ["sh", "-c"]
            body["args"] = ["[ {{retries}} -ge 1 ]"]
            body.pop("source", None)
            if "script" in tmpl:
                tmpl["container"] = tmpl.pop("script")
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    assert any(n["type"] == "Retry" for n in wf["status"]["nodes"].values())


def test_unsupported_fields_are_refused_up_front(backend: LocalBackend) -> None:
    from engine.errors import SpecError

    manifest = example("steps")
    manifest["spec"]["templates"].append(
        {"name": "k8s", "resource": {"action": "create", "manifest": "kind: ConfigMap"}}
    )
    with pytest.raises(SpecError, match=r"spec\.templates\[2\]\.resource: not supported"):
        backend.run(manifest)
    assert backend.store.names() == []


def _json(value: Any) -> str:
    return json.dumps(value)


Check = Callable[[Manifest], None]
