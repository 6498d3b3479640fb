"""Argo's ``test/e2e/functional_test.go`` (v4.1.2): the tests the first two files left out that
the local runner can be held to, run with the Go tests' own assertions.

Workflows are copied verbatim from their yaml files (``testdata/``, ``functional/``); harness
adaptations, each noted where made: ``argoproj/argosay`` containers run the copied script
(``e2e_workflow``); what a Go test reads from the Kubernetes API (PVCs, a ConfigMap of the e2e
cluster, a file touched with ``kubectl exec``) is read or written where the local runner keeps
it (``backend.store``).

Ported elsewhere: TestDAGOmittedOutputRef, TestDAGSkipped*, TestStepsSkipped*
(``tests/local/test_skipped_outputs.py``). Not ported (they need Kubernetes objects the local
runner does not have): TestPendingRetryWorkflow, TestPendingRetryWorkflowWithRetryStrategy and
TestTemplateLevelTimeoutWithForbidden (a memory ResourceQuota keeps pods Pending or forbids
them), TestWorkflowPodSpecPatch (asserts the Pod object's spec: terminationGracePeriodSeconds,
per-container resource limits).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from engine.backends.local import LocalBackend
from tests.local.argo_e2e import e2e_workflow, node_by_display, wait_until

Manifest = dict[str, Any]


# ------------------------------------------------------------------ TestVolumeClaimTemplate

VOLUME_CLAIM_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: volume-claim-template-
spec:
  entrypoint: main
  volumeClaimGC:
    strategy: OnWorkflowCompletion
  volumeClaimTemplates:
    - metadata:
        name: vol
      spec:
        accessModes: [ "ReadWriteOnce" ]
        resources:
          requests:
            storage: 1Mi
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        volumeMounts:
          - name: vol
            mountPath: /mnt/vol
"""


def test_volume_claim_template(backend: LocalBackend) -> None:
    """functional_test.go TestVolumeClaimTemplate"""
    name = backend.submit(e2e_workflow(VOLUME_CLAIM_TEMPLATE))
    backend.wait(name, timeout=30)
    # The Go test lists the namespace's PersistentVolumeClaims until none is left (15 s); the
    # local runner keeps a workflow's claims as directories (``LocalStore.claim_dir``), so the
    # claim list is what is left under the workflow's volumes directory.
    claims = backend.store.claim_dir(name, "vol").parent
    deadline = time.monotonic() + 15
    while claims.exists() and any(claims.iterdir()):
        assert time.monotonic() < deadline, "timeout waiting for PVC to be deleted"
        time.sleep(1)


# ------------------------------------------------------------------ TestArtifactRepositoryRef

ARTIFACT_REPOSITORY_REF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: artifact-repository-ref-
spec:
  entrypoint: main
  artifactRepositoryRef:
    key: my-key
  templates:
    - name: main
      dag:
        tasks:
          - name: generate
            template: generate
          - name: consume
            template: consume
            dependencies:
              - generate
    - name: generate
      container:
        image: argoproj/argosay:v2
        args:
          - echo
          - hello
          - /mnt/file
      outputs:
        artifacts:
          - name: file
            path: /mnt/file
            s3:
              key: my-file
    - name: consume
      container:
        image: argoproj/argosay:v2
        args:
          - cat
          - /tmp/file
      inputs:
        artifacts:
          - name: file
            path: /tmp/file
            s3:
              key: my-file
"""

# The e2e cluster's ConfigMap (manifests/quick-start/base/artifact-repositories-configmap.yaml),
# which holds the key ``my-key`` the workflow refers to.
ARTIFACT_REPOSITORIES = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: artifact-repositories
  annotations:
    workflows.argoproj.io/default-artifact-repository: default-v1
data:
  default-v1: |
    archiveLogs: true
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
  my-key: |
    archiveLogs: true
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
  empty: ""
"""


def test_artifact_repository_ref(backend: LocalBackend) -> None:
    """functional_test.go TestArtifactRepositoryRef"""
    backend.apply(yaml.safe_load(ARTIFACT_REPOSITORIES))
    manifest = e2e_workflow(ARTIFACT_REPOSITORY_REF)
    # The e2e fixtures submit into namespace ``argo``, where that ConfigMap is.
    manifest["metadata"]["namespace"] = "argo"
    wf = backend.run(manifest)
    status = wf["status"]
    assert status["phase"] == "Succeeded"
    ref = status.get("artifactRepositoryRef")
    assert ref
    assert ref.get("namespace") == "argo"
    assert ref.get("configMap") == "artifact-repositories"
    assert ref.get("key") == "my-key"
    assert not ref.get("default", False)

    # these should never be set because we must get them from the artifactRepositoryRef
    generated = node_by_display(wf, "generate")["outputs"]["artifacts"][0]["s3"]
    assert not generated.get("bucket")
    assert generated.get("key")
    consumed = node_by_display(wf, "consume")["inputs"]["artifacts"][0]["s3"]
    assert not consumed.get("bucket")
    assert consumed.get("key")


# ------------------------------------------------------------------ TestPause*

PAUSE_BEFORE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: pause-before-
spec:
  entrypoint: whalesay
  templates:
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        env:
          - name: ARGO_DEBUG_PAUSE_BEFORE
            value: 'true'
"""

PAUSE_AFTER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: pause-after-
spec:
  entrypoint: whalesay
  templates:
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        env:
          - name: ARGO_DEBUG_PAUSE_AFTER
            value: 'true'
"""

# functional/pause-before-after.yaml, less a trailing space after "env:" (no YAML meaning).
PAUSE_BEFORE_AFTER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: pause-before-after
spec:
  entrypoint: whalesay
  templates:
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        env:
          - name: ARGO_DEBUG_PAUSE_BEFORE
            value: 'true'
          - name: ARGO_DEBUG_PAUSE_AFTER
            value: 'true'
"""


def _has_running_pod(wf: Manifest) -> bool:
    """``fixtures.ToHaveRunningPod``."""
    return any(
        n["type"] == "Pod" and n["phase"] == "Running" for n in wf["status"]["nodes"].values()
    )


def _touch_marker(backend: LocalBackend, name: str, marker: str) -> None:
    """``kubectl exec -i <pod> -c main -- bash -c 'touch /proc/1/root/run/argo/ctr/main/<marker>'``
    with ``fixtures.NoError``: the exec needs the main container still running; the file is the
    pod's /var/run/argo (its var-run-argo emptyDir), kept in the pod's directory here."""
    wf = backend.get(name)
    running = [
        n for n in wf["status"]["nodes"].values() if n["type"] == "Pod" and n["phase"] == "Running"
    ]
    assert running, "kubectl exec: the main container is not running"
    pod = Path(backend.store.pod_dir(name, running[0]["id"]))
    path = pod / "var-run-argo" / "ctr" / "main" / marker
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _succeeded(wf: Manifest) -> bool:
    """``fixtures.ToBeSucceeded``."""
    return bool(wf["status"].get("phase") == "Succeeded")


def test_pause_before(backend: LocalBackend) -> None:
    """functional_test.go TestPauseBefore"""
    name = backend.submit(e2e_workflow(PAUSE_BEFORE))
    wait_until(backend, name, _has_running_pod, timeout=30)
    time.sleep(5)  # the Exec's "sleep 5 && kubectl exec ..."
    _touch_marker(backend, name, "before")
    wait_until(backend, name, _succeeded, timeout=30)


def test_pause_after(backend: LocalBackend) -> None:
    """functional_test.go TestPauseAfter"""
    name = backend.submit(e2e_workflow(PAUSE_AFTER))
    wait_until(backend, name, _has_running_pod, timeout=30)
    time.sleep(5)  # the Exec's "sleep 5 && kubectl exec ..."
    _touch_marker(backend, name, "after")
    wait_until(backend, name, _succeeded, timeout=30)


def test_pause_after_and_before(backend: LocalBackend) -> None:
    """functional_test.go TestPauseAfterAndBefore"""
    name = backend.submit(e2e_workflow(PAUSE_BEFORE_AFTER))
    wait_until(backend, name, _has_running_pod, timeout=30)
    time.sleep(5)  # the first Exec's "sleep 5 && kubectl exec ..."
    _touch_marker(backend, name, "before")
    _touch_marker(backend, name, "after")
    wait_until(backend, name, _succeeded, timeout=30)
