"""More of Argo's examples (``tests/local/data/argo-examples``, Apache-2.0, copied from
argoproj/argo-workflows ``examples/``), run locally with their documented outcomes.

The fixture files are unmodified; the rewrites happen here and keep each example's structure:
``python`` → ``python3``, ``cowsay`` → ``echo``, random coin flips and random exits made
deterministic, long sleeps shortened, HTTP hooks (no network here) turned into ``echo``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.backends.local.exprlang import build_env, evaluate, go_format
from engine.errors import SpecError
from tests.local.conftest import ARGO, load_yaml, nodes_by_name, stdout_of

Manifest = dict[str, Any]
DATA = Path(__file__).parent / "data" / "argo-examples"


def fixture(name: str) -> Manifest:
    return load_yaml(DATA / f"{name}.yaml")


def template(manifest: Manifest, name: str) -> dict[str, Any]:
    return next(t for t in manifest["spec"]["templates"] if t["name"] == name)


def host_tools(manifest: Manifest) -> Manifest:
    for tmpl in manifest["spec"]["templates"]:
        for body in (tmpl.get("script"), tmpl.get("container")):
            if body and body.get("command"):
                body["command"][0] = {"python": "python3", "cowsay": "echo"}.get(
                    body["command"][0], body["command"][0]
                )
    return manifest


def by_display(workflow: Manifest) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in workflow["status"]["nodes"].values()}


def relative(workflow: Manifest) -> dict[str, dict[str, Any]]:
    name = workflow["metadata"]["name"]
    return {
        n["name"][len(name) :].lstrip("."): n
        for n in workflow["status"]["nodes"].values()
        if n["name"].startswith(name)
    }


def flip(manifest: Manifest, name: str, source: str) -> None:
    template(manifest, name)["script"]["source"] = source


# ---------------------------------------------------------------------------- expressions


def test_expression_destructure_json(backend: LocalBackend) -> None:
    wf = backend.run(fixture("expression-destructure-json"))
    assert wf["status"]["phase"] == "Succeeded"
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert [p["value"] for p in root["inputs"]["parameters"]] == ["1", "2", "3"]
    logged = [line.content for line in backend.logs(wf["metadata"]["name"], node=root["id"])]
    assert logged == ["123"]
    # No template calls it, so nothing refers to its result: Argo's executor keeps none
    # (includeScriptOutput is false without a boundary, executor.go CaptureScriptResult).
    assert "result" not in (root.get("outputs") or {})


def test_expression_reusing_verbose_snippets(backend: LocalBackend) -> None:
    wf = backend.run(fixture("expression-reusing-verbose-snippets"))
    assert wf["status"]["phase"] == "Succeeded"
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert json.loads(root["inputs"]["parameters"][0]["value"]) == {
        "avg": 35.8,
        "max": 57,
        "min": 15,
    }
    assert stdout_of(backend, root) == (
        "The week's average temperature was 35.8 with a minimum of 15 and a maximum of 57."
    )


@pytest.mark.parametrize("side", ["heads", "tails"])
def test_conditional_parameters(backend: LocalBackend, side: str) -> None:
    manifest = host_tools(fixture("conditional-parameters"))
    flip(manifest, "flipcoin1", f'print("{side}")\n')
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["outputs"]["parameters"] == [{"name": "stepresult", "value": side}]
    other = "tails" if side == "heads" else "heads"
    assert relative(wf)[f"[1].{other}"]["phase"] == "Skipped"


def test_an_expression_that_fails_reaches_the_pod_as_written(backend: LocalBackend) -> None:
    """``SubstituteParams`` (workflow/common/util.go) substitutes with unresolved tags allowed,
    and ``expressionReplaceCore`` then writes back an expression that fails to evaluate: the
    pod runs with the expression's text (``substitutePodParams`` tries it once more, in vain)."""
    manifest = host_tools(fixture("expression-destructure-json"))
    manifest["spec"]["arguments"]["parameters"][0]["value"] = "not json"
    wf = backend.run(manifest)
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["phase"] == "Succeeded"
    written = [p["value"] for p in template(manifest, "main")["inputs"]["parameters"]]
    assert [p["value"] for p in root["inputs"]["parameters"]] == written
    assert stdout_of(backend, root) == "".join(written)


def test_expr_language_pieces() -> None:
    env = build_env(
        {
            "inputs.parameters.n": "4",
            "steps.flip-coin.outputs.result": "heads",
            "workflow.parameters.list": '["a","b"]',
        }
    )
    cases = {
        "asInt(inputs.parameters.n) * 2": "8",
        "asFloat(inputs.parameters.n) / 8": "0.5",
        "steps['flip-coin'].outputs.result == 'heads' ? 'H' : 'T'": "H",
        "sprig.upper(steps['flip-coin'].outputs.result)": "HEADS",
        "'b' in fromJSON(workflow.parameters.list)": "true",
        "filter([1, 2, 3, 4], # % 2 == 0)": "[2 4]",
        "map(fromJSON(workflow.parameters.list), {upper(#)})": "[A B]",
        "toJson({'a': [1, 'x']})": '{"a":[1,"x"]}',
        "jsonpath('{\"a\": {\"b\": [5, 6]}}', '$.a.b[1]')": "6",
        "'heads' matches '^he' and not ('x' in ['y'])": "true",
        "sprig.splitList(',', 'a,b,c') | len()": "3",
        "nil ?? 'fallback'": "fallback",
        "1.5e7": "1.5e+07",
        "sprig.trim('  x ') + string(10 / 4)": "x2.5",
    }
    for expression, expected in cases.items():
        assert go_format(evaluate(expression, env)) == expected, expression


# ---------------------------------------------------------------------------- outputs, loops


def test_exit_code_output_variable(backend: LocalBackend) -> None:
    wf = backend.run(fixture("exit-code-output-variable"))
    got = by_display(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert got["failing-container"]["phase"] == "Failed"
    assert got["failing-container"]["outputs"]["exitCode"] == "123"
    assert stdout_of(backend, got["echo-container"]) == "Exit code was: 123"


def test_parameter_aggregation(backend: LocalBackend) -> None:
    manifest = host_tools(fixture("parameter-aggregation"))
    args = template(manifest, "odd-or-even")["container"]["args"]
    args[0] = args[0].replace("sleep 1 &&", "")
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    assert got["[1].divide-by-2(0:evenness:odd,num:1)"]["phase"] == "Skipped"
    # [2].print refers to their results: those are kept (hasOutputResultRef, operator.go)
    assert got["[1].divide-by-2(1:evenness:even,num:2)"]["outputs"]["result"] == "1"
    assert got["[1].divide-by-2(3:evenness:even,num:4)"]["outputs"]["result"] == "2"
    assert sorted(n for n in got if n.startswith("[2].")) == ["[2].print(0:1)", "[2].print(1:2)"]


def test_loops_sequence(backend: LocalBackend) -> None:
    wf = backend.run(fixture("loops-sequence"))
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    for expected in (
        "[0].sequence-count(4:4)",
        "[0].sequence-start-end(5:105)",
        "[0].sequence-param(2:202)",
        "[0].sequence-negative(5:0)",
        "[0].sequence-format(4:testuser04)",
    ):
        assert got[expected]["phase"] == "Succeeded", expected
    assert "[0].sequence-param(3:203)" not in got


def test_global_outputs(backend: LocalBackend) -> None:
    manifest = fixture("global-outputs")
    template(manifest, "global-output")["container"]["args"] = [
        "echo -n hello world > /tmp/hello_world.txt"
    ]
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    outputs = wf["status"]["outputs"]
    assert outputs["parameters"] == [{"name": "my-global-param", "value": "hello world"}]
    assert [a["name"] for a in outputs["artifacts"]] == ["my-global-art"]
    assert "path" not in outputs["artifacts"][0]  # addArtifactToGlobalScope clears it
    got = relative(wf)
    for prefix in ("[1].consume-globals", "onExit"):
        assert stdout_of(backend, got[f"{prefix}[0].consume-global-param"]) == "hello world"
        assert stdout_of(backend, got[f"{prefix}[0].consume-global-art"]) == "hello world"


def test_key_only_artifacts(backend: LocalBackend) -> None:
    manifest = load_yaml(ARGO / "examples" / "key-only-artifact.yaml")
    template(manifest, "generate")["container"]["command"] = ["sh", "-c"]
    template(manifest, "generate")["container"]["args"] = ["echo hello > /mnt/file"]
    template(manifest, "consume")["container"]["command"] = ["cat", "/tmp/file"]
    template(manifest, "consume")["container"]["args"] = []
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    assert stdout_of(backend, by_display(wf)["consume"]) == "hello"
    assert (backend.store.repository_path("my-file")).read_text() == "hello\n"


# ---------------------------------------------------------------------------- control flow


def test_conditionals_complex_regex_and_grouping(backend: LocalBackend) -> None:
    manifest = host_tools(fixture("conditionals-complex"))
    flip(manifest, "flip-coin", 'print("tails")\n')
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    assert got["[1].heads"]["phase"] == "Skipped" and got["[1].tails"]["phase"] == "Succeeded"
    assert got["[3].complex-condition"]["phase"] == "Succeeded"  # tails twice
    assert got["[3].heads-regex"]["phase"] == "Skipped"
    assert got["[3].heads-regex"]["message"] == "when 'tails =~ hea' evaluated false"
    assert got["[3].tails-regex"]["phase"] == "Succeeded"


def test_coinflip_recursive(backend: LocalBackend) -> None:
    manifest = host_tools(fixture("coinflip-recursive"))
    # tails twice (the node name grows with each recursion), then heads
    flip(
        manifest, "flip-coin", 'print("tails" if "{{node.name}}".count("tails") < 2 else "heads")\n'
    )
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    assert got["[1].tails"]["type"] == "Steps"
    assert got["[1].tails[1].tails"]["type"] == "Steps"
    assert got["[1].tails[1].tails[1].heads"]["phase"] == "Succeeded"
    assert got["[1].tails[1].tails[1].tails"]["phase"] == "Skipped"


def test_retry_script_limit_as_string(backend: LocalBackend) -> None:
    manifest = host_tools(fixture("retry-script"))
    template(manifest, "retry-script")["script"]["source"] = (
        "import sys\nsys.exit(0 if {{retries}} >= 2 else 1)\n"
    )
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["type"] == "Retry" and len(root["children"]) == 3
    phases = [wf["status"]["nodes"][c]["phase"] for c in root["children"]]
    assert phases == ["Failed", "Failed", "Succeeded"]


def test_retry_expression_uses_last_retry(backend: LocalBackend) -> None:
    manifest = load_yaml(ARGO / "examples" / "retry-conditional.yaml")
    tmpl = next(t for t in manifest["spec"]["templates"] if "retryStrategy" in t)
    body = tmpl.get("script") or tmpl["container"]
    body["command"] = ["sh", "-c"]
    body["args"] = ["exit $(( {{retries}} < 2 ? 2 : 1 ))"]  # 2, 2, then 1 stops retrying
    body.pop("source", None)
    tmpl["container"] = tmpl.pop("script", body)
    template(manifest, "safe-to-retry")["script"]["command"] = ["python3"]
    wf = backend.run(manifest)
    retry = relative(wf)["[1].retry"]
    assert retry["type"] == "Retry" and len(retry["children"]) == 3
    assert [wf["status"]["nodes"][c]["outputs"]["exitCode"] for c in retry["children"]] == [
        "2",
        "2",
        "1",
    ]
    assert retry["phase"] == "Failed" and wf["status"]["phase"] == "Failed"


def test_lifecycle_hooks_template_level(backend: LocalBackend) -> None:
    manifest = fixture("life-cycle-hooks-tmpl-level")
    hook = template(manifest, "http")
    del hook["http"]
    hook["container"] = {"image": "alpine", "command": ["echo", "hook"]}
    template(manifest, "echo")["container"]["args"] = ['sleep 0.6; echo "it was heads"']
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    name = wf["metadata"]["name"]
    for step in ("[0].step-1", "[1].step2"):
        success = got[f"{step}.hooks.success"]
        assert success["phase"] == "Succeeded" and success["boundaryID"] == name
        assert success["id"] in got[step]["children"]
        assert got[f"{step}.hooks.running"]["phase"] == "Succeeded"
    # the next step group hangs off step-1, its hooks do not
    assert got["[1]"]["id"] in got["[0].step-1"]["children"]


def test_lifecycle_hooks_workflow_level(backend: LocalBackend) -> None:
    manifest = load_yaml(ARGO / "examples" / "life-cycle-hooks-wf-level.yaml")
    hook = template(manifest, "http")
    del hook["http"]
    hook["container"] = {"image": "alpine", "command": ["echo", "hook"]}
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    running = got["hooks.running"]
    assert running["phase"] == "Succeeded" and running["nodeFlag"] == {"hooked": True}
    assert running["id"] in wf["status"]["nodes"][wf["metadata"]["name"]]["children"]
    assert got["onExit"]["phase"] == "Succeeded"


def test_lifecycle_hook_without_expression_is_refused(backend: LocalBackend) -> None:
    manifest = load_yaml(ARGO / "examples" / "life-cycle-hooks-wf-level.yaml")
    del manifest["spec"]["hooks"]["running"]["expression"]
    with pytest.raises(
        SpecError, match=r"spec\.hooks\.running\.expression: hooks\.running Expression required"
    ):
        backend.run(manifest)


def test_memoize_simple_hits_the_cache_on_the_second_run(backend: LocalBackend) -> None:
    manifest = load_yaml(ARGO / "examples" / "memoize-simple.yaml")
    first = backend.run(manifest)
    second = backend.run(manifest)
    for wf, hit in ((first, False), (second, True)):
        root = wf["status"]["nodes"][wf["metadata"]["name"]]
        assert wf["status"]["phase"] == "Succeeded"
        assert root["memoizationStatus"] == {
            "hit": hit,
            "key": "cache-key",
            "cacheName": "cache-config",
        }
        assert root["outputs"]["parameters"][0]["value"] == "world"
    hit = second["status"]["nodes"][second["metadata"]["name"]]
    assert "resourcesDuration" not in hit  # nothing ran
    entry = json.loads(backend.store.lookup_key("ConfigMap", "cache-config", "cache-key") or "")
    assert entry["nodeID"] == first["metadata"]["name"]


def test_memoize_max_age_expires(backend: LocalBackend) -> None:
    manifest = load_yaml(ARGO / "examples" / "memoize-simple.yaml")
    manifest["spec"]["templates"][0]["memoize"]["maxAge"] = "1s"
    backend.run(manifest)
    time.sleep(2.1)
    wf = backend.run(manifest)
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["memoizationStatus"]["hit"] is False


def test_synchronization_mutex_template_level(backend: LocalBackend) -> None:
    manifest = fixture("synchronization-mutex-tmpl-level")
    for name in ("acquire-lock", "acquire-lock-1"):
        template(manifest, name)["container"]["args"] = ["date +%s.%N; sleep 0.2; date +%s.%N"]
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    spans: dict[str, list[tuple[float, float]]] = {}
    for node in wf["status"]["nodes"].values():
        if node["type"] == "Pod":
            start, end = (float(x) for x in stdout_of(backend, node).split())
            spans.setdefault(node["templateName"], []).append((start, end))
    for holder_spans in spans.values():
        holder_spans.sort()
        assert len(holder_spans) == 5
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(holder_spans))


def test_enum_arguments_are_checked_up_front(backend: LocalBackend) -> None:
    manifest = fixture("loops-sequence")
    manifest["spec"]["arguments"]["parameters"][0]["enum"] = ["1", "2"]
    with pytest.raises(
        SpecError,
        match=r"spec\.arguments\.count\.value should be present in spec\.arguments\.count\.enum",
    ):
        backend.run(manifest)
    manifest["spec"]["arguments"]["parameters"][0]["enum"] = ["2", "3"]
    assert backend.run(manifest)["status"]["phase"] == "Succeeded"


def test_unsupported_kinds_name_the_field(backend: LocalBackend) -> None:
    manifest = fixture("loops-sequence")
    manifest["spec"]["templates"].append({"name": "d", "plugin": {"hello": {}}})
    with pytest.raises(SpecError, match=r"spec\.templates\[2\]\.plugin: not supported"):
        backend.run(manifest)


def _nodes(wf: Manifest) -> dict[str, dict[str, Any]]:
    return nodes_by_name(wf)


def _report(backend: LocalBackend, node: dict[str, Any]) -> dict[str, str]:
    """``key = value`` lines a showcase pod printed."""
    pairs = (line.split(" = ", 1) for line in stdout_of(backend, node).splitlines())
    return {pair[0].strip(): pair[1] for pair in pairs if len(pair) == 2}


# ---------------------------------------------------------------------------- containerSet


def test_container_set_outputs_result(backend: LocalBackend) -> None:
    manifest = fixture("container-set-outputs-result-workflow")
    template(manifest, "group")["containerSet"]["containers"][0]["command"][0] = "python3"
    template(manifest, "verify")["script"]["command"] = ["python3"]
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    assert got["a"]["type"] == "Pod" and stdout_of(backend, got["a"]) == "hi"
    main = got["a.main"]
    assert main["type"] == "Container" and main["phase"] == "Succeeded"
    assert main["boundaryID"] == got["a"]["id"]
    assert got["a"]["children"] == [main["id"], got["b"]["id"]]  # b hangs off the pod node
    assert got["b"]["phase"] == "Succeeded"  # the assert in verify held


def test_container_set_graph_shares_volumes(backend: LocalBackend) -> None:
    steps = {"a": "echo a > /ws/f", "b": "echo b >> /ws/f", "c": "exit 3", "main": "cat /ws/f"}
    deps = {"a": [], "b": ["a"], "c": ["a"], "main": ["b", "c"]}
    manifest: Manifest = {
        "metadata": {"name": "graph"},
        "spec": {
            "entrypoint": "main",
            "volumes": [{"name": "ws", "emptyDir": {}}],
            "templates": [
                {
                    "name": "main",
                    "containerSet": {
                        "volumeMounts": [{"name": "ws", "mountPath": "/ws"}],
                        "containers": [
                            {"name": n, "image": "x", "command": ["sh", "-c", steps[n]]}
                            | ({"dependencies": deps[n]} if deps[n] else {})
                            for n in steps
                        ],
                    },
                }
            ],
        },
    }
    wf = backend.run(manifest)
    got = relative(wf)
    assert got[""]["children"] == [got["a"]["id"]]
    assert got["a"]["children"] == [got["b"]["id"], got["c"]["id"]]
    assert got["b"]["children"] == got["c"]["children"] == [got["main"]["id"]]
    assert got["a"]["phase"] == got["b"]["phase"] == "Succeeded"
    assert got["c"]["phase"] == "Failed" and got["c"]["message"] == "c: Error (exit code 3): "
    # Its command never ran: the emissary ends with exit code 64 on a failed dependency, an
    # Error node (runEmissary; assessNodeStatus).
    assert got["main"]["phase"] == "Error"
    assert got["main"]["message"] == (
        'main: Error (exit code 64): dependency "c" exited with non-zero code: 3'
    )
    assert got[""]["message"] == "c: Error (exit code 3)"  # inferFailedReason: by name
    assert wf["status"]["phase"] == "Failed"
    steps["c"] = "echo c >> /ws/f"
    manifest["metadata"]["name"] = "graph-2"
    manifest["spec"]["templates"][0]["containerSet"]["containers"][2]["command"][2] = steps["c"]
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    # b and c run at once, both after a (the emissary waits only for dependencies).
    first, *rest = stdout_of(backend, relative(wf)[""]).split("\n")
    assert (first, sorted(rest)) == ("a", ["b", "c"])


# ---------------------------------------------------------------------------- daemons, retries


def test_daemon_step_serves_the_next_step_then_stops(backend: LocalBackend) -> None:
    manifest = load_yaml(DATA.parent / "daemon-step-local.yaml")
    started = time.time()
    wf = backend.run(manifest)
    assert time.time() - started < 60
    assert wf["status"]["phase"] == "Succeeded"
    got = by_display(wf)
    assert stdout_of(backend, got["client"]) == "200"
    server = got["server"]
    assert server["phase"] == "Succeeded" and "daemoned" not in server  # stopped at the end
    assert server["podIP"] == "127.0.0.1"


def test_on_transient_error_does_not_retry_plain_failures(backend: LocalBackend) -> None:
    manifest = fixture("retry-script")
    tmpl = template(manifest, "retry-script")
    tmpl["retryStrategy"]["retryPolicy"] = "OnTransientError"
    tmpl["script"] = {"image": "x", "command": ["sh"], "source": "exit 1\n"}
    wf = backend.run(manifest)
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["type"] == "Retry" and len(root["children"]) == 1
    assert root["phase"] == "Failed"


def test_exit_hook_with_artifacts_written_at_the_root(backend: LocalBackend) -> None:
    wf = backend.run(host_tools(fixture("exit-handler-with-artifacts")))
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    assert stdout_of(backend, got["[0].step-1.onExit"]) == "Welcome"
    assert got["[0].step-1.onExit"]["id"] in got["[0].step-1"]["children"]


def test_template_defaults_apply_to_every_template(backend: LocalBackend) -> None:
    manifest = host_tools(fixture("template-defaults"))
    template(manifest, "retry-backoff")["container"]["args"] = [
        "import sys; sys.exit(0 if {{retries}} >= 1 else 1)"
    ]
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    assert got[""]["type"] == "Retry" and got["(0)"]["type"] == "Steps"
    assert [got[f"(0)[0].retry-backoff({i})"]["phase"] for i in range(2)] == [
        "Failed",
        "Succeeded",
    ]
    assert got["(0)[1].hello-world"]["type"] == "Retry"


def test_sidecar_serves_the_main_container_and_stops_with_it(backend: LocalBackend) -> None:
    started = time.time()
    wf = backend.run(load_yaml(DATA.parent / "sidecar-local.yaml"))
    assert time.time() - started < 60
    assert wf["status"]["phase"] == "Succeeded"
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["type"] == "Pod" and stdout_of(backend, root) == "200"


def test_sidecar_without_command_is_refused(backend: LocalBackend) -> None:
    manifest = load_yaml(DATA.parent / "sidecar-local.yaml")
    del manifest["spec"]["templates"][0]["sidecars"][0]["command"]
    with pytest.raises(SpecError, match=r"spec\.templates\[0\]\.sidecars\[0\]\.command"):
        backend.run(manifest)


def test_template_fail_fast_stops_launching_children(backend: LocalBackend) -> None:
    # Argo's examples/loops-arbitrary-sequential-steps.yaml: parallelism 1 + failFast
    manifest = fixture("loops-arbitrary-sequential-steps")
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == (
        "template has failed or errored children and failFast enabled"
    )
    pods = {
        n["displayName"]: n["phase"] for n in wf["status"]["nodes"].values() if n["type"] == "Pod"
    }
    assert sorted(pods.values()) == ["Failed", "Succeeded", "Succeeded", "Succeeded"]
    assert not any("will not run" in name for name in pods)


def test_variables_showcase(backend: LocalBackend) -> None:
    manifest = fixture("variables-showcase")
    # the daemon's `nc -lk -e` is not on every host; any long-running process will do
    template(manifest, "svc-daemon")["container"]["args"] = ["sleep 30"]
    started = time.time()
    wf = backend.run(manifest)
    assert time.time() - started < 25  # the daemons were stopped, not waited for
    assert wf["status"]["phase"] == "Succeeded"
    name = wf["metadata"]["name"]
    got = relative(wf)
    prepare = _report(backend, got["[0].prepare"])
    assert prepare["node.name"] == f"{name}[0].prepare"
    assert prepare["steps.name"] == "prepare"
    assert prepare["workflow.priority"] == "5"
    assert prepare["ts.scheduled"] == "2026-04-29T00:00:00Z"
    assert prepare["ts.year (strftime)"] == wf["metadata"]["creationTimestamp"][:4]
    assert prepare["annotations.owner"] == "platform-team"
    assert prepare["labels.app"] == "variables-demo"
    assert prepare["workflow.status"] == "Running"
    assert prepare["out.param.path"] == "/tmp/out.txt"
    consume = _report(backend, got["[2].consume"])
    assert consume["fanout.result"] == "[{msg:alpha=1},{msg:beta=2}]"
    assert consume["fanout.echoed-param"] == "[alpha=1,beta=2]"
    assert consume["prepare.status"] == "Succeeded" and consume["prepare.exitCode"] == "0"
    assert consume["svc.ip"] == "127.0.0.1"
    assert stdout_of(backend, got["[2].consume"]).endswith("seed-content")
    gather = stdout_of(backend, got["[3].dag-stage.gather"]).splitlines()
    assert gather[0] == "c-loop.result       = [{tag:x},{tag:y},{tag:z}]"
    assert got["[3].dag-stage.svc"]["phase"] == "Succeeded"  # daemon stopped with its DAG
    report = stdout_of(backend, got["onExit[0].report"]).splitlines()
    assert report[0].endswith("= Succeeded") and report[-1] == "greeting=hello target=world"


# ---------------------------------------------------------------------------- WorkflowTemplates


def _apply_templates(backend: LocalBackend) -> None:
    import yaml

    text = (ARGO / "examples" / "workflow-template__templates.yaml").read_text()
    for document in yaml.safe_load_all(text):
        if document:
            host_tools(document)
            backend.apply(document)


def test_template_ref_dag_diamond(backend: LocalBackend) -> None:
    _apply_templates(backend)
    wf = backend.run(load_yaml(ARGO / "examples" / "workflow-template__dag.yaml"))
    assert wf["status"]["phase"] == "Succeeded"
    got = relative(wf)
    assert stdout_of(backend, got["A"]) == "A" and got["D"]["phase"] == "Succeeded"
    assert got["A"]["templateRef"] == {
        "name": "workflow-template-print-message",
        "template": "print-message",
    }
    assert "templateName" not in got["A"]
    # inside the WorkflowTemplate, plain template names resolve in that WorkflowTemplate
    assert got["C.inner-B"]["phase"] == "Succeeded"
    assert stdout_of(backend, got["C.inner-B"]) == "inner-B"


def test_workflow_template_ref_merges_arguments_by_name(backend: LocalBackend) -> None:
    backend.apply(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": "two-args"},
            "spec": {
                "entrypoint": "main",
                "arguments": {
                    "parameters": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]
                },
                "templates": [
                    {
                        "name": "main",
                        "container": {
                            "image": "x",
                            "command": [
                                "echo",
                                "{{workflow.parameters.a}}-{{workflow.parameters.b}}",
                            ],
                        },
                    }
                ],
            },
        }
    )
    wf = backend.run(
        {
            "metadata": {"generateName": "ref-"},
            "spec": {
                "workflowTemplateRef": {"name": "two-args"},
                "arguments": {"parameters": [{"name": "b", "value": "B"}]},
            },
        }
    )
    assert wf["status"]["phase"] == "Succeeded"
    assert stdout_of(backend, wf["status"]["nodes"][wf["metadata"]["name"]]) == "1-B"


def test_a_script_is_staged_executable(backend: LocalBackend) -> None:
    """``StageFiles`` (executor.go) writes a script's source with mode 0755: the example's
    ``command: [sh, -c]`` runs the staged file as a command."""
    wf = backend.run(fixture("scripts-bash"))
    assert wf["status"]["phase"] == "Succeeded"
    printed = stdout_of(backend, by_display(wf)["print"])
    assert re.fullmatch(r"result was: \d+", printed), printed


def test_map_reduce_makes_its_own_output_directories(backend: LocalBackend) -> None:
    """An image lacks its outputs' directories, so the example's scripts make them
    (``os.mkdir("/mnt/out")``): the runner leaves them to make, and still collects the files
    from there. Every part reaches its map task through key-only artifacts."""
    wf = backend.run(host_tools(fixture("map-reduce")))
    assert wf["status"]["phase"] == "Succeeded", [
        n.get("message") for n in wf["status"]["nodes"].values() if n.get("message")
    ]
    total = backend.store.repository_path(f"{wf['metadata']['name']}/total.json")
    assert json.loads(total.read_text()) == {"total": 2 * (1 + 2 + 3 + 4)}


def test_init_container_example(backend: LocalBackend) -> None:
    wf = backend.run(fixture("init-container"))
    assert wf["status"]["phase"] == "Succeeded"
    (pod,) = wf["status"]["nodes"].values()
    assert stdout_of(backend, pod) == "bye"
