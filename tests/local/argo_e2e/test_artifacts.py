"""Argo's ``test/e2e/artifacts_test.go`` and ``http_artifacts_test.go`` (v4.1.2), run on the
local runner with the Go tests' own assertions.

Workflows are copied from the Go test or its yaml file (``testdata/``, ``smoke/``,
``expectedfailures/``). Adaptations, all harness matters, each noted where made:

* ``argoproj/argosay`` containers without a command run Argo's argosay script
  (``tests.local.argo_e2e.e2e_workflow``).
* What the Go tests read from minio (``my-bucket-3/<key>``) is read from the local artifact
  repository, which keeps s3 artifacts by key (``backend.store.repository_path``).
* GitHub (git artifacts) and ``httpbin:9100`` (http artifacts) are not reachable: a local
  ``file://`` repository made with ``git`` and a local HTTP server stand in for them.
* The e2e controller's default artifact repository says ``archiveLogs: true``
  (test/e2e/manifests, ``artifact-repositories`` ``default-v1``); the local runner has no
  controller configuration, so the log tests ask for it with ``spec.archiveLogs: true``, which
  ``IsArchiveLogs`` (workflow/controller/workflowpod.go) resolves the same way.

Not ported: the ``*Plugin`` variants (artifact driver plugins, an executor-plugin sidecar and
the ``plugin-bucket``), TestStoppedWorkflow (skipped in Argo itself), TestDeleteWorkflow*,
TestArtifactGC (artifact GC finalizers and GC pods), TestInsufficientRole (service accounts and
RBAC), TestResourceLog* (``resource`` templates create a Kubernetes object); of
http_artifacts_test.go, TestOutputArtifactHttp, TestOAuthArtifactHttp,
TestClientCertAuthArtifactHttp and TestArtifactoryArtifacts (not asked for: output uploads, an
OAuth token flow, TLS client certificates, Artifactory).
"""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from tests.local.argo_e2e import e2e_workflow, find_display, node_by_display, serving
from tests.local.conftest import stdout_of

Manifest = dict[str, Any]


def _repository_text(backend: LocalBackend, key: str) -> str:
    """The object under ``key`` as ``checkArtifactContent`` reads it (gunzipped if gzipped)."""
    content = backend.store.repository_path(key).read_bytes()
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    return content.decode()


def _artifact_key(workflow: Manifest, node_name: str, artifact_name: str) -> str:
    """``Then.ExpectArtifact``: the key of a node's output artifact ("-": the workflow's node)."""
    if node_name == "-":
        node_name = workflow["metadata"]["name"]
    node = next(n for n in workflow["status"]["nodes"].values() if n["name"] == node_name)
    found = [
        a for a in (node.get("outputs") or {}).get("artifacts") or [] if a["name"] == artifact_name
    ]
    assert found, "was unable to get artifact by name"
    return str(found[0]["s3"]["key"])


# ------------------------------------------------------------------------ artifacts_test.go


def test_input_on_mount(backend: LocalBackend) -> None:
    """artifacts_test.go TestInputOnMount"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: input-on-mount-
spec:
  entrypoint: main
  templates:
    - name: main
      volumes:
        - name: mnt
          emptyDir: { }
      container:
        image: argoproj/argosay:v2
        args: [ cat , /mnt/in-0 ]
        volumeMounts:
          - name: mnt
            mountPath: /mnt
      inputs:
        artifacts:
          - name: in-0
            path: /mnt/in-0
            raw:
              data: hi
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_output_on_mount(backend: LocalBackend) -> None:
    """artifacts_test.go TestOutputOnMount"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-on-mount-
spec:
  entrypoint: main
  templates:
    - name: main
      volumes:
        - name: mnt
          emptyDir: { }
      container:
        image: argoproj/argosay:v2
        args: [ echo , hi, /mnt/out-0 ]
        volumeMounts:
          - name: mnt
            mountPath: /mnt
      outputs:
        artifacts:
          - name: out-0
            path: /mnt/out-0
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_output_on_input(backend: LocalBackend) -> None:
    """artifacts_test.go TestOutputOnInput"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-on-input-
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        args: [ echo , hi, /file ]
      inputs:
        artifacts:
          - name: in-0
            path: /file
            raw:
              data: hi
      outputs:
        artifacts:
          - name: out-0
            path: /file
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_artifact_passing(backend: LocalBackend) -> None:
    """artifacts_test.go TestArtifactPassing"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: artifact-passing-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: generate-artifact
            template: generate-message
          - name: consume-artifact
            template: print-message
            dependencies:
              - generate-artifact
            arguments:
              artifacts:
                - name: in
                  from: "{{tasks.generate-artifact.outputs.artifacts.out}}"

    - name: generate-message
      container:
        image: argoproj/argosay:v2
        args: [ "echo", "hello world", "/mnt/out/message" ]
      outputs:
        artifacts:
          - name: out
            path: /mnt/out

    - name: print-message
      inputs:
        artifacts:
          - name: in
            path: /mnt/in
      container:
        image: argoproj/argosay:v2
        args: [ "cat", "/mnt/in/message" ]
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


GLOBAL_ARTIFACT_PASSING = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: global-artifact-passing-
spec:
  entrypoint: main
  templates:
    - name: main
      outputs: {}
      steps:
        - - name: create-global-artifact
            template: create-global-artifact
        - - name: add-0
            template: add-to-global-artifact
            arguments:
              artifacts:
                - name: input
                  from: '{{workflow.outputs.artifacts.globalArtifact}}'
              parameters:
                - name: value
                  value: '0'
        - - name: add-1
            template: add-to-global-artifact
            arguments:
              artifacts:
                - name: input
                  from: '{{workflow.outputs.artifacts.globalArtifact}}'
              parameters:
                - name: value
                  value: '1'
        - - name: save-artifact
            template: save-artifact
            arguments:
              artifacts:
                - name: input
                  from: '{{workflow.outputs.artifacts.globalArtifact}}'
    - name: create-global-artifact
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["touch /tmp/artifact.txt"]
      outputs:
        artifacts:
          - globalName: globalArtifact
            name: artifact
            path: /tmp/artifact.txt
            archive:
              none: {}
    - name: add-to-global-artifact
      inputs:
        parameters:
          - name: value
        artifacts:
          - name: input
            path: /tmp/artifact.txt
      outputs:
        artifacts:
          - globalName: globalArtifact
            name: artifact
            path: /tmp/artifact.txt
            archive:
              none: {}
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["echo -n {{inputs.parameters.value}} >> /tmp/artifact.txt"]
    - name: save-artifact
      container:
        image: argoproj/argosay:v2
      inputs:
        artifacts:
          - name: input
            path: /tmp/artifact.txt
      outputs:
        artifacts:
          - name: globalArtifact
            path: /tmp/artifact.txt
            archive:
              none: {}
            s3:
              key: globalArtifact
              bucket: my-bucket-3
              endpoint: minio:9000
              insecure: true
              accessKeySecret:
                name: my-minio-cred
                key: accesskey
              secretKeySecret:
                name: my-minio-cred
                key: secretkey
            artifactGC:
              strategy: OnWorkflowDeletion
"""

COMPLEX_GLOBAL_ARTIFACT_PASSING = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: global-artifact-passing-
spec:
  entrypoint: test-root
  templates:
  - inputs: {}
    metadata: {}
    name: test-root
    outputs: {}
    steps:
    - - arguments: {}
        name: create-global-artifacts
        template: create-global-artifacts
    - - arguments:
          artifacts:
          - from: '{{workflow.outputs.artifacts.testInput}}'
            name: testInput
          - from: '{{workflow.outputs.artifacts.testUpdate}}'
            name: testUpdate
        name: nested-workflow-entrypoint
        template: main
    - - arguments:
          artifacts:
          - from: '{{workflow.outputs.artifacts.testUpload}}'
            name: testUpload
        name: upload-testupload-step
        template: upload-testupload
    - - arguments:
          artifacts:
          - from: '{{workflow.outputs.artifacts.testUpdate}}'
            name: testUpdate
        name: upload-testupdate-step
        template: upload-testupdate

  - inputs: {}
    metadata: {}
    name: main
    outputs: {}
    steps:
    - - arguments:
          artifacts:
          - from: '{{workflow.outputs.artifacts.testInput}}'
            name: input
        name: cp
        template: cp
    - - arguments:
          artifacts:
          - from: '{{workflow.outputs.artifacts.testUpdate}}'
            name: input-parameters
        name: generate-testupdate-update
        template: generate-testupdate-update
    - - arguments:
          artifacts:
          - from: '{{steps.cp.outputs.artifacts.upload}}'
            name: testUpload
        name: output-testupload
        template: output-testupload
    - - arguments:
          artifacts:
          - from: '{{steps.generate-testupdate-update.outputs.artifacts.updated-testupdate}}'
            name: testUpdate
        name: output-testupdate
        template: output-testupdate



  - container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["sleep 1; echo -n 'test input' > /testInput.txt; echo -n 'test update' > /testUpdate.txt"]
    name: create-global-artifacts
    outputs:
      artifacts:
      - globalName: testInput
        name: testInput
        path: /testInput.txt
        archive:
          none: {}
      - globalName: testUpdate
        name: testUpdate
        path: /testUpdate.txt
        archive:
          none: {}



  - container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["sleep 1; cp /input.txt /upload.txt"]
      name: ""
      resources: {}
    inputs:
      artifacts:
      - name: input
        path: /input.txt
    metadata: {}
    name: cp
    outputs:
      artifacts:
      - name: upload
        path: /upload.txt

  - container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["sleep 1; echo -n 'Updated testUpdate' > /updated-testUpdate.txt"]
    metadata: {}
    name: generate-testupdate-update
    outputs:
      artifacts:
      - name: updated-testupdate
        path: /updated-testUpdate.txt
        archive:
          none: {}

  - container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["sleep 1"]
      name: ""
      resources: {}
    inputs:
      artifacts:
      - name: testUpload
        path: /testUpload.txt
    metadata: {}
    name: output-testupload
    outputs:
      artifacts:
      - globalName: testUpload
        name: testUpload
        path: /testUpload.txt

  - container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["sleep 1"]
      name: ""
      resources: {}
    inputs:
      artifacts:
      - name: testUpdate
        path: /testUpdate.txt
    metadata: {}
    name: output-testupdate
    outputs:
      artifacts:
      - globalName: testUpdate
        name: testUpdate
        path: /testUpdate.txt



  - container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["sleep 1; cat /upload/testInput.txt > /upload/testUpload.txt"]
      name: ""
      resources: {}
    inputs:
      artifacts:
      - name: testUpload
        path: /upload/testInput.txt
    metadata: {}
    name: upload-testupload
    outputs:
      artifacts:
      - globalName: uploadresult
        name: uploadresult
        path: /upload/testUpload.txt

  - container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["sleep 1; cat /upload/testUpdate.txt"]
      name: ""
      resources: {}
    inputs:
      artifacts:
      - name: testUpdate
        path: /upload/testUpdate.txt
    metadata: {}
    name: upload-testupdate
    outputs:
      artifacts:
        - name: finalTestUpdate
          path: /upload/testUpdate.txt
          archive:
            none: {}
          s3:
            key: finalTestUpdate
            bucket: my-bucket-3
            endpoint: minio:9000
            insecure: true
            accessKeySecret:
              name: my-minio-cred
              key: accesskey
            secretKeySecret:
              name: my-minio-cred
              key: secretkey
          artifactGC:
            strategy: OnWorkflowDeletion
"""


@pytest.mark.parametrize(
    ("workflow", "key", "value"),
    [
        pytest.param(GLOBAL_ARTIFACT_PASSING, "globalArtifact", "01", id="Basic"),
        pytest.param(
            COMPLEX_GLOBAL_ARTIFACT_PASSING, "finalTestUpdate", "Updated testUpdate", id="Complex"
        ),
    ],
)
def test_global_artifact_passing(
    backend: LocalBackend, workflow: str, key: str, value: str
) -> None:
    """artifacts_test.go TestGlobalArtifactPassing"""
    # Subtests Basic and Complex; Plugin and ComplexPlugin need an artifact driver plugin.
    wf = backend.run(e2e_workflow(workflow))
    assert wf["status"]["phase"] == "Succeeded"
    # minio's my-bucket-3/<key> → the local artifact repository's object under <key>
    assert _repository_text(backend, key) == value


def test_exit_handler_with_parameterized_global_artifacts(backend: LocalBackend) -> None:
    """artifacts_test.go TestExitHandlerWithParameterizedGlobalArtifacts"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: exit-handler-with-artifacts-
spec:
  onExit: exit-handler
  entrypoint: main
  arguments:
    parameters:
    - name: params
      value: |
        [
          { "variable": "car"},
          { "variable": "bike"}
        ]
  templates:
    - name: main
      steps:
        - - name: step-1
            template: output
            arguments:
              parameters:
                - name: variable
                  value: "{{item.variable}}"
            withParam: "{{workflow.parameters.params}}"

    - name: output
      inputs:
        parameters:
        - name: variable
      script:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["echo Have {{inputs.parameters.variable}} > /result.txt; cat /result.txt"]
      outputs:
        artifacts:
          - name: result-{{inputs.parameters.variable}}
            path: /result.txt
            globalName: output-result-{{inputs.parameters.variable}}

    - name: printer
      inputs:
        artifacts:
          - name: message-bike
            path: /tmp/message-bike
          - name: message-car
            path: /tmp/message-car
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["cat /tmp/message*"]

    - name: exit-handler
      steps:
        - - name: printer
            template: printer
            arguments:
              artifacts:
              - name: message-car
                from: "{{workflow.outputs.artifacts.output-result-car}}"
              - name: message-bike
                from: "{{workflow.outputs.artifacts.output-result-bike}}"
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    printer = node_by_display(wf, "printer")
    assert printer["phase"] == "Succeeded"
    # the pod's main container log
    logs = stdout_of(backend, printer)
    assert "Have car" in logs
    assert "Have bike" in logs


def test_default_parameter_outputs(backend: LocalBackend) -> None:
    """artifacts_test.go TestDefaultParameterOutputs"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: default-params-
spec:
  entrypoint: start
  templates:
  - name: start
    steps:
      - - name: generate-1
          template: generate
      - - name: generate-2
          when: "True == False"
          template: generate
    outputs:
      parameters:
        - name: nested-out-parameter
          valueFrom:
            default: "Default value"
            parameter: "{{steps.generate-2.outputs.parameters.out-parameter}}"

  - name: generate
    container:
      image: argoproj/argosay:v2
      args: [echo, my-output-parameter, /tmp/my-output-parameter.txt]
    outputs:
      parameters:
      - name: out-parameter
        valueFrom:
          path: /tmp/my-output-parameter.txt
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    assert any(
        param.get("value") is not None and str(param["value"]) == "Default value"
        for node in wf["status"]["nodes"].values()
        for param in (node.get("outputs") or {}).get("parameters") or []
    )


def test_same_input_output_path_optional_artifact(backend: LocalBackend) -> None:
    """artifacts_test.go TestSameInputOutputPathOptionalArtifact"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: optional-input-output-artifact-same-location-
spec:
  entrypoint: main
  templates:
    - name: main
      inputs:
        artifacts:
          - name: file
            path: /tmp/file1.txt
            optional: true
      container:
        image: argoproj/argosay:v2
        args: ["echo", "test", "/tmp/file1.txt"]
      outputs:
        artifacts:
          - name: file
            path: /tmp/file1.txt
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_output_result(backend: LocalBackend) -> None:
    """artifacts_test.go TestOutputResult"""
    wf = backend.run(
        e2e_workflow("""
kind: Workflow
apiVersion: argoproj.io/v1alpha1
metadata:
  generateName: output-result-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: a
            template: produce
          - name: b
            template: consume
            dependencies:
              - a
            arguments:
              parameters:
                - name: text
                  value: "{{tasks.a.outputs.result}}"

    - name: produce
      container:
        image: argoproj/argosay:v2

    - name: consume
      inputs:
        parameters:
          - name: text
      container:
        image: argoproj/argosay:v2
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    node = find_display(wf, "a")
    assert node is not None
    assert node["outputs"].get("exitCode") is not None
    assert node["outputs"].get("result") is not None


def _archive_logs(manifest: Manifest) -> Manifest:
    # The e2e controller's default artifact repository has archiveLogs: true (see the module
    # docstring); the workflow asks for it instead.
    manifest["spec"]["archiveLogs"] = True
    return manifest


def test_main_log_basic(backend: LocalBackend) -> None:
    """artifacts_test.go TestMainLog (Basic)"""
    wf = backend.run(
        _archive_logs(
            e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: basic-
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        args:
          - echo
          - ":) Hello Argo!"
""")
        )
    )
    assert wf["status"]["phase"] == "Succeeded"
    key = _artifact_key(wf, "-", "main-logs")
    assert backend.store.repository_path(key).exists()  # StatObject: no error
    assert ":) Hello Argo!" in _repository_text(backend, key)


def test_main_log_active_deadline_seconds(backend: LocalBackend) -> None:
    """artifacts_test.go TestMainLog (ActiveDeadlineSeconds)"""
    # expectedfailures/timeouts-step.yaml → examples/timeouts-step.yaml
    wf = backend.run(
        _archive_logs(
            e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: timeouts-step-
  labels:
    workflows.argoproj.io/no-test: "expected-failure"
  annotations:
    workflows.argoproj.io/no-test-reason: |
      It looks like the container does not terminate in a clean way

      time=2025-11-28T16:47:21.850Z level=DEBUG msg="ignore signal" argo=true signal="child exited"
      time=2025-11-28T16:47:22.858Z level=DEBUG msg="forwarding signal" argo=true signal=terminated
      time=2025-11-28T16:47:23.327Z level=INFO msg="sub-process exited" argo=true error="exit status 143"
      time=2025-11-28T16:47:23.327Z level=DEBUG msg="ignore signal" argo=true signal="urgent I/O condition"
      Error: exit status 143
spec:
  entrypoint: sleep
  templates:
  - name: sleep
    container:
      image: argoproj/argosay:v2
      command: [bash, -c]
      args: ["echo 123; sleep 1d"]
    activeDeadlineSeconds: 10
""")
        )
    )
    assert wf["status"]["phase"] == "Failed"
    key = _artifact_key(wf, "-", "main-logs")
    assert backend.store.repository_path(key).exists()
    assert "123" in _repository_text(backend, key)


def test_containerset_logs(backend: LocalBackend) -> None:
    """artifacts_test.go TestContainersetLogs (Basic)"""
    wf = backend.run(
        _archive_logs(
            e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: containerset-logs-
spec:
  entrypoint: main
  templates:
    - name: main
      containerSet:
        containers:
          - name: a
            image: argoproj/argosay:v2
          - name: b
            image: argoproj/argosay:v2
""")
        )
    )
    assert wf["status"]["phase"] == "Succeeded"
    name = wf["metadata"]["name"]
    node = wf["status"]["nodes"].get(name)
    assert node is not None
    assert node.get("outputs") == {
        "artifacts": [
            {"name": "a-logs", "s3": {"key": f"{name}/{name}/a.log"}},
            {"name": "b-logs", "s3": {"key": f"{name}/{name}/b.log"}},
        ]
    }


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd, capture_output=True, check=True,
    )  # fmt: skip


@pytest.fixture
def go_git(tmp_path: Path) -> str:
    """Stands in for https://github.com/argoproj-labs/go-git.git: a repository whose
    ``master`` has a README.md, over two commits (so ``depth: 1`` has something to cut)."""
    path = tmp_path / "go-git"
    path.mkdir()
    _git(path, "init", "--quiet", "--initial-branch", "master")
    for text in ("# go-git\n", "# go-git\n\nA highly extensible git implementation.\n"):
        (path / "README.md").write_text(text)
        _git(path, "add", "--all")
        _git(path, "commit", "--quiet", "--message", "change")
    return f"file://{path}"


def test_git_artifact_depth_clone(backend: LocalBackend, go_git: str) -> None:
    """artifacts_test.go TestGitArtifactDepthClone"""
    # repo: https://github.com/argoproj-labs/go-git.git → a local file:// repository
    wf = backend.run(
        e2e_workflow(
            """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: git-depth-
spec:
  entrypoint: git-depth
  templates:
  - name: git-depth
    inputs:
      artifacts:
      - name: git-repo
        path: /tmp/git
        git:
          repo: https://github.com/argoproj-labs/go-git.git
          revision: master
          depth: 1
    container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["ls -l"]
      workingDir: /tmp/git
""".replace("https://github.com/argoproj-labs/go-git.git", go_git)
        )
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_git_artifact_at_working_dir(backend: LocalBackend, go_git: str) -> None:
    """artifacts_test.go TestGitArtifactAtWorkingDir"""
    # repo: https://github.com/argoproj-labs/go-git.git → a local file:// repository
    wf = backend.run(
        e2e_workflow(
            """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: git-workingdir-
spec:
  entrypoint: probe
  templates:
  - name: probe
    inputs:
      artifacts:
      - name: source
        path: /tmp/git
        git:
          repo: https://github.com/argoproj-labs/go-git.git
          revision: master
          depth: 1
    script:
      image: argoproj/argosay:v2
      command: [sh]
      workingDir: /tmp/git
      source: |
        set -eu
        pwd
        test -f README.md
""".replace("https://github.com/argoproj-labs/go-git.git", go_git)
        )
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_artifact_ephemeral_volume(backend: LocalBackend) -> None:
    """artifacts_test.go TestArtifactEphemeralVolume"""
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: artifact-volume-claim-
spec:
  entrypoint: artifact-volume-claim
  volumeClaimTemplates:
    - metadata:
        name: vol
      spec:
        accessModes: [ "ReadWriteOnce" ]
        resources:
          requests:
            storage: 1Mi
  templates:
  - name: artifact-volume-claim
    inputs:
      artifacts:
      - name: artifact-volume-claim
        path: /tmp/input/input.txt
        raw:
          data: abc
    container:
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["ls -l"]
      workingDir: /tmp
      volumeMounts:
      - name: vol
        mountPath: /tmp
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


# ------------------------------------------------------------------- http_artifacts_test.go


@pytest.fixture
def httpbin() -> Iterator[str]:
    """Stands in for the e2e cluster's httpbin (``http://httpbin:9100``): ``/get`` and
    ``/basic-auth/<user>/<password>`` (401 unless the request's basic auth is that pair)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if parts == ["get"]:
                self._json(200, {"args": {}, "headers": dict(self.headers), "url": self.path})
            elif len(parts) == 3 and parts[0] == "basic-auth":
                expected = base64.b64encode(f"{parts[1]}:{parts[2]}".encode()).decode()
                if self.headers.get("Authorization") == f"Basic {expected}":
                    self._json(200, {"authenticated": True, "user": parts[1]})
                else:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="Fake Realm"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
            else:
                self._json(404, {})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        yield base


def test_input_artifact_http(backend: LocalBackend, httpbin: str) -> None:
    """http_artifacts_test.go TestInputArtifactHttp"""
    # url: http://httpbin:9100/get → the local stand-in
    wf = backend.run(
        e2e_workflow(
            """
# This example demonstrates bucket-creation enabled for s3 output artifacts, when the target bucket does not exist.
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: input-artifact-http-
spec:
  entrypoint: main
  templates:
  - name: main
    inputs:
      artifacts:
      - name: my-art
        path: /my-artifact
        http:
          url: http://httpbin:9100/get
    container:
      image: argoproj/argosay:v2
      command: [cat, "/my-artifact"]
""".replace("http://httpbin:9100", httpbin)
        )
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_basic_auth_artifact_http(backend: LocalBackend, httpbin: str) -> None:
    """http_artifacts_test.go TestBasicAuthArtifactHttp"""
    # The e2e cluster's Secret (manifests/quick-start/base/httpbin/my-httpbin-cred-secret.yaml),
    # its basic-auth keys.
    backend.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "my-httpbin-cred", "labels": {"app": "httpbin"}},
            "type": "Opaque",
            "stringData": {"user": "admin", "pass": "password"},
        }
    )
    # url: http://httpbin:9100/basic-auth/admin/password → the local stand-in
    wf = backend.run(
        e2e_workflow(
            """
# This example demonstrates bucket-creation enabled for s3 output artifacts, when the target bucket does not exist.
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: basic-auth-artifact-http-
spec:
  entrypoint: main
  templates:
  - name: main
    inputs:
        artifacts:
        - name: my-art
          path: /my-artifact
          http:
            url: http://httpbin:9100/basic-auth/admin/password
            auth:
              basicAuth:
                usernameSecret:
                  name: my-httpbin-cred
                  key: user
                passwordSecret:
                  name: my-httpbin-cred
                  key: pass
    container:
      image: argoproj/argosay:v2
      command: [cat, "/my-artifact"]
""".replace("http://httpbin:9100", httpbin)
        )
    )
    assert wf["status"]["phase"] == "Succeeded"
