"""Argo's ``test/e2e/functional_test.go`` (v4.1.2), from ``TestParameterAggregationStepsWithRetry``
to the end of the file, run on the local runner with the Go tests' own assertions.

Workflows are copied from the Go test or its yaml file (``test/e2e/functional/``,
``testdata/``, ``smoke/``, ``expectedfailures/``). Rewrites, each noted where made: ``cowsay``
(in Argo's argosay image, not on this host) → ``echo``; long sleeps shortened where the
expectation does not depend on them; the HTTP test's URL pointed at a local server (no network).

Tests of features the local runner refuses on purpose assert the refusal (and, where part of the
workflow remains meaningful, run that part). Two tests fail against the local runner as of this
audit, each a divergence from Argo: ``test_template_default_image`` (templateDefaults of every
template type merged into every template; a missing workingDir is not created) and
``test_terminate_workflow_while_on_exit_handler_running`` (a running exit handler is abandoned
on Terminate: workflow Succeeded, its Steps/StepGroup left Running).

Skipped Go tests (they need a cluster): TestTemplateLevelTimeoutWithForbidden (ResourceQuota),
TestWorkflowPodSpecPatch (pod spec), TestWorkflowInvalidServiceAccountError (RBAC,
wait-container logs). TestPauseBefore/After/AfterAndBefore are in test_functional_third.py.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.errors import SpecError
from tests.local.argo_e2e import (
    WHALESAY_TEMPLATE,
    e2e_template,
    e2e_workflow,
    node_by_display,
    serving,
    wait_until,
)

Manifest = dict[str, Any]


def _nodes(wf: Manifest) -> list[dict[str, Any]]:
    return list(wf["status"]["nodes"].values())


def _node_by_name(wf: Manifest, name: str) -> dict[str, Any]:
    for node in _nodes(wf):
        if node["name"] == name:
            return node
    raise AssertionError(f"no node named {name!r}")


def _param_values(node: dict[str, Any], where: str = "inputs") -> list[str]:
    return [str(p.get("value")) for p in (node.get(where) or {}).get("parameters") or []]


def _memo_hit(wf: Manifest) -> bool:
    return any((n.get("memoizationStatus") or {}).get("hit") for n in _nodes(wf))


# ------------------------------------------------------------------ aggregation, depends


def test_parameter_aggregation_steps_with_retry(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestParameterAggregationStepsWithRetry"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: parameter-aggregation-steps-with-retry
spec:
  retryStrategy:
    limit: 1
  entrypoint: fanout-steps-with-output
  templates:
    - name: echo-value
      inputs:
        parameters:
          - name: message
      container:
        image: argoproj/argosay:v2
      outputs:
        parameters:
          - name: dummy-output
            value: '{{inputs.parameters.message}}'
    - name: fanout-steps-with-output
      steps:
        - - name: echo-list
            template: echo-value
            arguments:
              parameters:
                - name: message
                  value: '{{item}}'
            withItems: [1, 2, 3]
      outputs:
        parameters:
          - name: dummy-steps-output
            valueFrom:
              parameter: '{{steps.echo-list.outputs.parameters.dummy-output}}'
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    node = node_by_display(wf, "parameter-aggregation-steps-with-retry(0)")
    assert node["phase"] == "Succeeded"
    params = (node.get("outputs") or {}).get("parameters") or []
    assert len(params) == 1
    assert params[0]["value"] == '["1","2","3"]'


def test_dag_depends(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestDAGDepends"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-depends-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: P
            template: pass
          - name: F
            template: fail
          - name: should-execute-1
            depends: "P && (F.Succeeded || F.Failed)"
            template: pass
          - name: should-execute-2
            depends: "P || F"
            template: pass
          - name: should-not-execute
            depends: "P && F"
            template: pass
          - name: should-execute-3
            depends: "should-execute-2.Succeeded || should-not-execute"
            template: pass

    - name: pass
      container:
        image: argoproj/argosay:v2

    - name: fail
      container:
        image: argoproj/argosay:v2
        args: ["exit 1"]
""")
    )
    assert node_by_display(wf, "should-execute-1")["phase"] == "Succeeded"
    assert node_by_display(wf, "should-execute-2")["phase"] == "Succeeded"
    assert node_by_display(wf, "should-not-execute")["phase"] == "Omitted"


# ------------------------------------------------------------------ optional artifacts


def test_optional_input_artifacts(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestOptionalInputArtifacts. The http artifact's URL is
    GitHub's 404 page in Argo's test; here a server on this machine answers 404 the same way
    (no network), which leaves the optional artifact out."""
    text = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: input-artifacts-
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
      inputs:
        artifacts:
          - name: my-http-artifact
            path: /my-http-artifact
            optional: true
            http:
              url: https://github.com/argoproj/argo-workflows/not-found
          - name: my-s3-artifact
            path: /my-s3-artifact
            optional: true
            s3:
              bucket: my-bucket
              key: my-key
              endpoint: minio:9000
              insecure: true
              accessKeySecret:
                name: my-minio-cred
                key: accesskey
              secretKeySecret:
                name: my-minio-cred
                key: secretkey
"""
    manifest = e2e_workflow(text)
    with _answering_404() as url:
        manifest["spec"]["templates"][0]["inputs"]["artifacts"][0]["http"]["url"] = url
        wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"


@contextlib.contextmanager
def _answering_404() -> Iterator[str]:
    """The URL of a server on this machine that answers every GET with 404 Not Found."""
    with serving(_NotFound) as base:
        yield base + "/argo-workflows/not-found"


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


def test_optional_output_artifacts(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestOptionalOutputArtifacts"""
    # cowsay → echo (cowsay is in Argo's argosay image, not on this host)
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-artifact-optional-
spec:
  entrypoint: artifact-example
  templates:
    - name: artifact-example
      steps:
        - - name: generate-artifact
            template: whalesay

    - name: whalesay
      container:
        image: argoproj/argosay:v1
        command: [sh, -c]
        args: ["sleep 1; echo hello world | tee /tmp/hello_world12.txt"]
      outputs:
        artifacts:
          - name: hello-art
            optional: true
            path: /tmp/hello_world.txt
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


# ------------------------------------------------------------------ templates, exit handlers, hooks


def test_workflow_template_ref_with_exit_handler(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowTemplateRefWithExitHandler"""
    backend.apply(e2e_template(WHALESAY_TEMPLATE))
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-hello-world-
spec:
  entrypoint: whalesay-template
  arguments:
    parameters:
      - name: message
        value: "hello world"
  workflowTemplateRef:
    name: workflow-template-whalesay-template
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    assert not wf["status"].get("message")


def test_workflow_template_ref_with_exit_handler_error(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowTemplateRefWithExitHandlerError"""
    # Argo: the fixture's non-strict YAML decode drops ``templateRef`` (no such Template
    # field), so the controller fails the workflow with "invalid spec: templates.exit-handler
    # template type unspecified ...". The local runner refuses the WorkflowTemplate as it is
    # applied instead (as ``argo template create``'s default --strict decode would), so the
    # workflow that refers to it has no template to run.
    with pytest.raises(SpecError, match=r"spec\.templates\[1\]\.templateRef"):
        backend.apply(
            e2e_template("""
metadata:
  name: test-exit-handler
spec:
  entrypoint: main
  onExit: exit-handler
  templates:
    - name: main
      container:
        name: main
        image: argoproj/argosay:v2
    - name: exit-handler
      templateRef:
        name: nonexistent
        template: exit-handler
""")
        )
    with pytest.raises(SpecError, match=r'workflowtemplate\.argoproj\.io "test-exit-handler"'):
        backend.run(
            e2e_workflow("""
metadata:
  generateName: test-exit-handler-
spec:
  workflowTemplateRef:
    name: test-exit-handler
""")
        )


def test_workflow_lifecycle_hook_withe2e_template(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowLifecycleHookWithWorkflowTemplate"""
    # command [cowsay] → [echo] (cowsay is in Argo's argosay image, not on this host)
    backend.apply(
        e2e_template("""
metadata:
  name: test-exit-handler
spec:
  entrypoint: main
  templates:
    - name: main
      inputs:
        parameters:
        - name: message
      container:
        image: argoproj/argosay:v2
        command: [echo]
        args: ["{{inputs.parameters.message}}"]
""")
    )
    manifest = e2e_workflow("""
metadata:
  generateName: test-lifecycle-hook-
spec:
  entrypoint: hooks-exit-test
  templates:
  - name: hooks-exit-test
    container:
      image: argoproj/argosay:v2
    hooks:
      exit:
        templateRef:
          name: test-exit-handler
          template: main
        arguments:
          parameters:
            - name: message
              value: "hello world"
""")
    # Argo's Template has no ``hooks`` field: the fixture's non-strict YAML decode drops it,
    # so Argo runs the container alone. The local runner rejects the field up front.
    with pytest.raises(SpecError, match=r"templates\[0\]\.hooks"):
        backend.run(manifest)
    del manifest["spec"]["templates"][0]["hooks"]
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    assert not wf["status"].get("message")


def test_workflow_hook_parameter_templates(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowHookParameterTemplates"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: workflow-hook-parameter
spec:
  entrypoint: run-test
  templates:
    - name: run-test
      container:
        name: runner
        image: 'argoproj/argosay:v2'
        command: ['sh','-c']
        args:
          - exit 0
    - name: cowsay
      inputs:
        parameters:
          - name: ternary
          - name: status
      container:
        image: 'argoproj/argosay:v2'
        command: ['bash','-c']
        args:
          - |
            echo "{{inputs.parameters.ternary}}"
            echo "{{inputs.parameters.status}}"
            [[ "{{inputs.parameters.ternary}}" = "{{inputs.parameters.status}}" ]]
  hooks:
    exit:
      template: cowsay
      arguments:
        parameters:
          - name: ternary
            value: '{{= workflow.status == "Succeeded" ? "Succeeded" : "Failed" }}'
          - name: status
            value: '{{= workflow.status }}'
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    node = node_by_display(wf, "workflow-hook-parameter.onExit")
    assert node["phase"] == "Succeeded"
    values = _param_values(node)
    assert values[0] == "Succeeded"
    assert values[1] == "Succeeded"


# ------------------------------------------------------------------ parametrised fields, timeouts


def test_parametrizable_ads(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestParametrizableAds"""
    # Argo asserts the failed pod's spec.activeDeadlineSeconds == 5; there is no pod here, so
    # the local analogue: a failed pod node exists and the deadline (5s) cut the 10s sleep.
    started = time.monotonic()
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: param-ads-
spec:
  entrypoint: whalesay
  arguments:
    parameters:
      - name: ads
        value: "5"
  templates:
  - name: whalesay
    inputs:
      parameters:
        - name: ads
    activeDeadlineSeconds: "{{inputs.parameters.ads}}"
    container:
      image: argoproj/argosay:v2
      args: [sleep, 10s]
""")
    )
    elapsed = time.monotonic() - started
    assert wf["status"]["phase"] == "Failed"
    failed_pods = [n for n in _nodes(wf) if n["type"] == "Pod" and n["phase"] == "Failed"]
    assert failed_pods
    assert elapsed < 9.5, elapsed


def test_parametrizable_limit(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestParametrizableLimit"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: param-limit-
spec:
  entrypoint: whalesay
  arguments:
    parameters:
      - name: limit
        value: "1"
  templates:
  - name: whalesay
    inputs:
      parameters:
        - name: limit
    retryStrategy:
      limit: "{{inputs.parameters.limit}}"
    container:
      image: argoproj/argosay:v2
      args: [exit, 1]
""")
    )
    assert wf["status"]["phase"] == "Failed"
    node = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert "No more retries left" in node.get("message", "")
    assert len(wf["status"]["nodes"]) == 3


def test_template_level_timeout(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestTemplateLevelTimeout"""
    # timeouts 5s/10s/15s shortened to 1s/2s/3s: the test only waits for Failed
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: steps-tmpl-timeout-
spec:
  entrypoint: hello-hello-hello
  templates:
  - name: hello-hello-hello
    steps:
    - - name: hello1
        template: whalesay
        arguments:
          parameters: [{name: message, value: "1s"}]
      - name: hello2a
        template: whalesay
        arguments:
          parameters: [{name: message, value: "2s"}]
      - name: hello2b
        template: whalesay
        arguments:
          parameters: [{name: message, value: "3s"}]

  - name: whalesay
    timeout: "{{inputs.parameters.message}}"
    inputs:
      parameters:
      - name: message
    container:
      image: argoproj/argosay:v2
      args: [sleep, 30s]
""")
    )
    assert wf["status"]["phase"] == "Failed"


# ------------------------------------------------------------------ misc runnable


def test_output_artifact_s3_bucket_creation_enabled(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestOutputArtifactS3BucketCreationEnabled"""
    # The s3 location maps to the local artifact store (by key); bucket creation is moot.
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-artifact-with-s3-bucket-creation-enabled-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: generate-artifact
            template: whalesay

    - name: whalesay
      container:
        image: argoproj/argosay:v2
        args: [ "echo", "hello world", "/tmp/hello_world.txt" ]
      outputs:
        artifacts:
          - name: hello-art
            path: /tmp/hello_world.txt
            s3:
              bucket: bucket-that-does-not-exist-2
              key: my-outputs/hello_world.txt.tgz
              endpoint: minio:9000
              insecure: true
              createBucketIfNotPresent: {}
              accessKeySecret:
                name: my-minio-cred
                key: accesskey
              secretKeySecret:
                name: my-minio-cred
                key: secretkey
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_data_transformation(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestDataTransformation"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: data-transformation-
spec:
  entrypoint: artifact-example
  templates:
    - name: artifact-example
      steps:
        - - name: generate-artifact
            template: generate-artifacts
            withItems: ['script.py', 'doc.pdf', 'foo/script.py', 'foo/doc.pdf']
            arguments:
              parameters:
                - name: file-name
                  value: "{{item}}"
        - - name: get-artifact-path
            template: get-artifact-paths
        - - name: process-artifact
            template: process-message
            withParam: "{{steps.get-artifact-path.outputs.result}}"
            arguments:
              artifacts:
                - name: file
                  s3:
                    bucket: my-bucket
                    key: "{{item}}"
                    endpoint: minio:9000
                    insecure: true
                    accessKeySecret:
                      name: my-minio-cred
                      key: accesskey
                    secretKeySecret:
                      name: my-minio-cred
                      key: secretkey
              parameters:
                - name: file-name
                  value: "{{item}}"

    - name: generate-artifacts
      inputs:
        parameters:
          - name: file-name
      container:
        image: argoproj/argosay:v2
        args:
          - echo
          - hello
          - "/mnt/{{inputs.parameters.file-name}}"
      outputs:
        artifacts:
          - name: file
            path: "/mnt/{{inputs.parameters.file-name}}"
            s3:
              bucket: my-bucket
              key: "{{inputs.parameters.file-name}}"
              endpoint: minio:9000
              insecure: true
              accessKeySecret:
                name: my-minio-cred
                key: accesskey
              secretKeySecret:
                name: my-minio-cred
                key: secretkey

    - name: get-artifact-paths
      data:
        source:
          artifactPaths:
            name: data
            s3:
              bucket: my-bucket
              endpoint: minio:9000
              insecure: true
              accessKeySecret:
                name: my-minio-cred
                key: accesskey
              secretKeySecret:
                name: my-minio-cred
                key: secretkey
        transformation:
          - expression: "filter(data, {# endsWith \\".py\\"})"

    - name: process-message
      inputs:
        parameters:
          - name: file-name
        artifacts:
          - name: file
            path: /file
      container:
        image: argoproj/argosay:v1
        command: [sh, -c]
        args: ["cat /file && echo \\"{{inputs.parameters.file-name}}.processed\\" | tee /tmp/f.txt"]
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert nodes["get-artifact-path"]["outputs"]["result"] == '["foo/script.py","script.py"]'
    assert "process-artifact(0:foo/script.py)" in nodes
    assert "process-artifact(1:script.py)" in nodes


@pytest.fixture
def json_server() -> Iterator[str]:
    body = json.dumps({"swagger": "2.0", "info": {"title": "generated"}}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        yield base + "/generated.swagger.json"


def test_http_outputs(backend: LocalBackend, json_server: str) -> None:
    """test/e2e/functional_test.go TestHTTPOutputs"""
    # URL (raw.githubusercontent.com) → a local server returning JSON: no network here
    manifest = e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: http-outputs-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: http
            template: http
            arguments:
              parameters:
                - name: url
                  value: URL
          - name: echo
            template: echo
            arguments:
              parameters:
                - name: msg
                  value: '{{tasks.http.outputs.result}}'
            dependencies:
              - http
    - name: http
      inputs:
        parameters:
          - name: url
      http:
        url: '{{inputs.parameters.url}}'
    - name: echo
      inputs:
        parameters:
          - name: msg
      container:
        image: 'argoproj/argosay:v2'
        args:
          - echo
          - '{{inputs.parameters.msg}}'
""")
    manifest["spec"]["templates"][0]["dag"]["tasks"][0]["arguments"]["parameters"][0]["value"] = (
        json_server
    )
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"
    http_node = node_by_display(wf, "http")
    assert (http_node.get("outputs") or {}).get("result") is not None
    echo_node = node_by_display(wf, "echo")
    assert http_node["outputs"]["result"] == _param_values(echo_node)[0]


def test_script_as_non_root(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestScriptAsNonRoot"""
    # sleep 10s → 1s (only success is expected)
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: script-nonroot-
spec:
  entrypoint: whalesay
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
    runAsNonRoot: true
  templates:
    - name: whalesay
      script:
        image: argoproj/argosay:v2
        command: ["bash"]
        source: |
          ls -l /argo/staging
          cat /argo/stahing/script
          sleep 1s
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


# ------------------------------------------------------------------ memoization

_MEMO = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: {generate}
spec:
  entrypoint: hello-hello-hello
  templates:
    - name: hello-hello-hello
      steps:
        - - name: hello1
            template: memostep
            arguments:
              parameters: [{{name: message, value: "hello1"}}]
        - - name: hello2a
            template: memostep
            arguments:
              parameters: [{{name: message, value: "hello1"}}]
    - name: memostep
      inputs:
        parameters:
        - name: message
      memoize:
        key: "{{{{inputs.parameters.message}}}}"
        maxAge: "10s"
        cache:
          configMap:
            name: {config_map}
{body}
    - name: whalesay
      inputs:
        parameters:
        - name: message
      container:
        image: argoproj/argosay:v2
        command: [echo]
        args: ["{{{{inputs.parameters.message}}}}"]
"""

_STEPS_BODY = """      steps:
      - - name: cache
          template: whalesay
          arguments:
            parameters: [{name: message, value: "{{inputs.parameters.message}}"}]
"""
_DAG_BODY = """      dag:
        tasks:
        - name: cache
          template: whalesay
          arguments:
            parameters: [{name: message, value: "{{inputs.parameters.message}}"}]
"""


def _outputs(kind: str) -> str:
    return f"""      outputs:
        parameters:
        - name: output
          valueFrom:
            Parameter: "{{{{{kind}.cache.outputs.result}}}}"
"""


def test_step_level_memoize(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestStepLevelMemoize"""
    text = _MEMO.format(
        generate="steps-memoize-",
        config_map="my-config-memo-step",
        body=_STEPS_BODY + _outputs("steps"),
    )
    wf = backend.run(e2e_workflow(text))
    assert wf["status"]["phase"] == "Succeeded"
    assert _memo_hit(wf)


def test_step_level_memoize_no_output(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestStepLevelMemoizeNoOutput"""
    text = _MEMO.format(
        generate="steps-memoize-noout-", config_map="my-config-memo-step-no-out", body=_STEPS_BODY
    )
    wf = backend.run(e2e_workflow(text))
    assert wf["status"]["phase"] == "Succeeded"
    assert _memo_hit(wf)


def test_dag_level_memoize(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestDAGLevelMemoize"""
    text = _MEMO.format(
        generate="dag-memoize-", config_map="my-config-memo-dag", body=_DAG_BODY + _outputs("tasks")
    )
    wf = backend.run(e2e_workflow(text))
    assert wf["status"]["phase"] == "Succeeded"
    assert _memo_hit(wf)


def test_dag_level_memoize_no_output(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestDAGLevelMemoizeNoOutput"""
    text = _MEMO.format(
        generate="dag-memoize-noout-", config_map="my-config-memo-dag", body=_DAG_BODY
    )
    wf = backend.run(e2e_workflow(text))
    assert wf["status"]["phase"] == "Succeeded"
    assert _memo_hit(wf)


# ------------------------------------------------------------------ container sets

_CONTAINER_SET = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: containerset-
spec:
  entrypoint: main
  templates:
    - name: main
      containerSet:
        containers:
          - name: a
            image: argoproj/argosay:v2
            command: [sh, -c]
            args: ['FILE=test.yml; EXITCODE=1; if test -f "$FILE"; then EXITCODE=0; else touch $FILE; fi; exit $EXITCODE']
            # added: the sandbox's / (the default working directory) is the read-only host
            # root; a pod's root filesystem is writable. /tmp is the container's own.
            workingDir: /tmp
"""


def test_container_set_retry_fail(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestContainerSetRetryFail"""
    manifest = e2e_workflow(_CONTAINER_SET)
    manifest["spec"]["templates"][0]["containerSet"]["retryStrategy"] = {
        "retries": 2,
        "duration": "5s",
    }
    wf = backend.run(manifest)
    assert wf["status"]["phase"] == "Succeeded"


def test_container_set_retry_success(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestContainerSetRetrySuccess"""
    wf = backend.run(e2e_workflow(_CONTAINER_SET))
    assert wf["status"]["phase"] == "Failed"


# ------------------------------------------------------------------ script/container details


def test_tty(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestTTY"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: tty-
spec:
  entrypoint: entrypoint
  templates:
    - name: entrypoint
      steps:
        - - name: tty-true
            template: tty-true
          - name: tty-false
            template: tty-false

    - name: tty-true
      script:
        tty: true
        stdin: true
        image: alpine:3.23
        command: [sh]
        source: |
          if [[ ! -t 0 ]]; then
            echo "I should be in a terminal but I'm not"
            exit 1
          fi

    - name: tty-false
      script:
        image: alpine:3.23
        command: [sh]
        source: |
          if [[ -t 0 ]]; then
            echo "I should not be in a terminal but I am"
            exit 1
          fi
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_template_default_image(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestTemplateDefaultImage"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: template-default-
spec:
  entrypoint: entrypoint
  templateDefaults:
    script:
      image: argoproj/argosay:v1
      command: [sh]
      workingDir: "/src"
    container:
      image: argoproj/argosay:v1
      command: [sh, -c]
      workingDir: "/src"
  templates:
    - name: entrypoint
      steps:
      - - name: test-script
          template: test-script
        - name: test-container
          template: test-container

    - name: test-script
      script:
        source: |
          pwd

    - name: test-container
      container:
        args: ["pwd"]
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_entrypoint_name(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestEntrypointName"""
    backend.apply(
        e2e_template("""
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: next-template
spec:
  entrypoint: next
  templates:
  - name: next
    inputs:
      parameters:
        - name: test
          value: "{{ workflow.mainEntrypoint }}"
    container:
      image: argoproj/argosay:v2
      args: [echo, "We got here!"]
""")
    )
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: bar-
spec:
  entrypoint: bar
  templates:
    - name: bar
      steps:
      - - name: step
          templateRef:
            name: next-template
            template: next
""")
    )
    node = node_by_display(wf, "step")
    assert node["phase"] == "Succeeded"
    assert _param_values(node)[0] == "bar"


def test_missing_steps_in_ui(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestMissingStepsInUI"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: missing-steps
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - arguments:
          parameters:
          - name: script
            value: |
              echo hello
        name: step1
        template: work
    - - arguments:
          parameters:
          - name: script
            value: |
              echo world
        name: step2
        template: work
  - name: work
    inputs:
      parameters:
        - name: script
        - name: outputArtifactResultFilePath
          default: /tmp/output
      artifacts:
        - name: inputFile
          optional: true
    outputs:
      parameters:
        - name: result
          valueFrom:
            parameter: '{{steps.execute-script.outputs.result}}'
      artifacts:
        - name: resultFile
          optional: true
          from: '{{steps.execute-script.outputs.artifacts.resultFile}}'
    steps:
      - - name: execute-script
          template: execute-target-script
          arguments:
            parameters:
              - name: script
                value: '{{inputs.parameters.script}}'
              - name: outputArtifactResultFilePath
                value: '{{inputs.parameters.outputArtifactResultFilePath}}'
            artifacts:
              - name: inputFile
                from: '{{inputs.artifacts.inputFile}}'
  - name: execute-target-script
    inputs:
      parameters:
        - name: script
        - name: outputArtifactResultFilePath
          default: /tmp/output
      artifacts:
        - name: inputFile
          optional: true
          path: /tmp/inputFile
    outputs:
      artifacts:
        - name: resultFile
          optional: true
          path: '{{inputs.parameters.outputArtifactResultFilePath}}'
    script:
      command: [ 'bash' ]
      image: 'argoproj/argosay:v2'
      source: '{{inputs.parameters.script}}'
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    node = _node_by_name(wf, "missing-steps[0].step1[0].execute-script")
    assert node.get("children") is not None
    assert len(node["children"]) == 1


def test_with_items_with_hooks(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWithItemsWithHooks"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  namespace: argo
  generateName: with-items-dag-error-
spec:
  podMetadata:
    labels:
      parent-workflow:  '{{workflow.name}}'
  podGC:
    strategy: OnPodCompletion
  templates:
    - name: hook-template
      inputs:
        parameters:
          - name: 'foo'
      script:
        image: >-
          alpine:3.23
        command:
          - sh
        source: >-
          echo "I am a hook {{inputs.parameters.foo}}"
    - name: run-sim-template
      inputs:
        parameters:
          - name: fanoutValue
      script:
        image: >-
          alpine:3.23
        command:
          - sh
        source: >-
          echo $FANOUT_VALUE
        env:
          - name: FANOUT_VALUE
            value: '{{inputs.parameters.fanoutValue}}'
    - name: run-sim-steps-template
      inputs:
        parameters:
          - name: fanoutValue
      steps:
        - - name: run-sim
            arguments:
              parameters:
                - name: fanoutValue
                  value: '{{inputs.parameters.fanoutValue}}'
            template: run-sim-template
    - name: main
      dag:
        tasks:
          - name: run-sim
            arguments:
              parameters:
                - name: fanoutValue
                  value: '{{item}}'
            template: run-sim-steps-template
            withItems:
              - 1
              - 2
              - 3
            hooks:
              exit:
                template: hook-template
                arguments:
                  parameters:
                    - name: foo
                      value: bar
              running:
                template: hook-template
                arguments:
                  parameters:
                    - name: foo
                      value: bar
                expression: tasks["run-sim"].status == "Running"
  entrypoint: main
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


# ------------------------------------------------------------------ terminate, exit nodes, failFast


def test_terminate_workflow_while_on_exit_handler_running(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestTerminateWorkflowWhileOnExitHandlerRunning"""
    name = backend.submit(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: workflow-exit-handler-sleep
spec:
  entrypoint: argosay-template
  onExit: exit-handler
  templates:
  - name: argosay-template
    container:
      image: argoproj/argosay:v2
      args: ["echo", "hello-world"]
  - name: sleep
    container:
      image: argoproj/argosay:v2
      args: ["sleep", "600"]
  - name: exit-handler
    steps:
      - - name: exit-handler-task
          template: sleep
""")
    )
    try:
        wait_until(backend, name, lambda wf: wf["status"].get("phase") == "Running")

        def entry_succeeded(wf: Manifest) -> bool:
            nodes = [n for n in _nodes(wf) if n["displayName"] == "workflow-exit-handler-sleep"]
            return bool(nodes) and nodes[0]["phase"] == "Succeeded"

        wait_until(backend, name, entry_succeeded)
        backend.terminate(name)
        wf = backend.wait(name, timeout=60)
    finally:
        if backend.get(name)["status"].get("phase") in ("Running", "Pending"):
            backend.terminate(name)
    assert wf["status"]["phase"] == "Failed"
    bad = [
        (n["displayName"], n["type"], n["phase"])
        for n in _nodes(wf)
        if n["type"] in ("StepGroup", "Steps") and n["phase"] != "Failed"
    ]
    assert not bad, bad


def test_workflow_exit_handler_crash_ensure_node_is_present(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowExitHandlerCrashEnsureNodeIsPresent"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: exit-handler-fail-missing-output-
  labels:
    test: test
spec:
  entrypoint: failure-workflow
  templates:
    - name: failure-workflow
      steps:
        - - name: step1
            template: intentional-fail
            hooks:
              exit:
                template: lifecycle-hook
                arguments:
                  parameters:
                    - name: hello-param
                      value: '{{steps.step1.outputs.parameters.hello-param}}'
    - name: intentional-fail
      outputs:
        parameters:
          - name: hello-param
            valueFrom:
              path: /tmp/hello_world.txt
      container:
        image: argoproj/argosay:v2
        command: ["sh", "-c"]
        args: ["echo intentional failure; exit 1"]
    - name: lifecycle-hook
      inputs:
        parameters:
          - name: hello-param
      container:
        image: argoproj/argosay:v2
        args: ["echo", "Hello param: {{inputs.parameters.hello-param}}"]
""")
    )
    assert wf["status"]["phase"] == "Failed"
    # wfv1 NodeStatus.IsExitNode: strings.HasSuffix(DisplayName, ".onExit")
    exit_names = [n["displayName"] for n in _nodes(wf) if n["displayName"].endswith(".onExit")]
    assert exit_names
    hook = node_by_display(wf, exit_names[-1])
    assert hook.get("inputs") is not None
    params = hook["inputs"].get("parameters") or []
    assert len(params) == 1
    assert params[0].get("value") is not None


def test_workflow_parallelism_step_fail_fast(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowParallelismStepFailFast (sleep 2 for 5)"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: parallelism-step-fail-fast
spec:
  entrypoint: main
  templates:
    - name: main
      parallelism: 2
      failFast: true
      steps:
        - - name: step1
            template: fail
          - name: step2
            template: sleep
    - name: fail
      container:
        image: argoproj/argosay:v2
        command: ["exit", "1"]
    - name: sleep
      container:
        image: argoproj/argosay:v2
        command: ["sleep", "2"]
""")
    )
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"].get("message") == (
        "template has failed or errored children and failFast enabled"
    )
    assert node_by_display(wf, "[0]")["phase"] == "Failed"
    assert node_by_display(wf, "step1")["phase"] == "Failed"
    assert node_by_display(wf, "step2")["phase"] == "Succeeded"


def test_workflow_parallelism_dag_fail_fast(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowParallelismDAGFailFast (sleep 2 for 5)"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: parallelism-dag-fail-fast
spec:
  entrypoint: main
  templates:
    - name: main
      parallelism: 2
      failFast: true
      dag:
        tasks:
          - name: task1
            template: fail
          - name: task2
            template: sleep
    - name: fail
      container:
        image: argoproj/argosay:v2
        args: ["exit", "1"]
    - name: sleep
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "2"]
""")
    )
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"].get("message") == (
        "template has failed or errored children and failFast enabled"
    )
    assert node_by_display(wf, "task1")["phase"] == "Failed"
    assert node_by_display(wf, "task2")["phase"] == "Succeeded"
