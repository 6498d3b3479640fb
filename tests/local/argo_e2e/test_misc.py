"""Argo's e2e tests (argoproj/argo-workflows v4.1.2, ``test/e2e/``) left unported by the other
files, from estimated_duration_test.go, malformed_resources_test.go and cli_test.go, run on
the local runner with the Go tests' own assertions.

Workflows are copied verbatim from the Go tests and their yaml files; harness adaptations, each
noted where made: ``argoproj/argosay`` containers run the copied script (``e2e_workflow``); a
CLI invocation becomes the matching ``LocalBackend`` call, whose printed text ("workflow x
stopped", "Name:") is not asserted, only that the call succeeds and what the workflow became;
``kubectl apply`` of a Workflow is ``submit``, of a (Cluster)WorkflowTemplate ``apply``.

Not ported, the rest of those files being ported elsewhere (daemon_pod, signals, retry, suspend,
hooks, progress, expr_lang, failed_main and invalid_command in test_lifecycle.py and others):

* signals_test.go TestSignaledContainerSet: container ``one`` is OOM-killed (exit 137) by its
  50Mi cgroup memory limit; the local runner runs processes without resource limits.
* retry_test.go TestRetryNodeAntiAffinity: needs the Kubernetes scheduler and several nodes
  (the retry pod is kept off the failed pod's node, or left unschedulable).
* cli_test.go, CLI or server matters with no ``LocalBackend`` counterpart: TestCompletion,
  TestLogLevels, TestGLogLevels, TestVersion, TestGRPC, TestKUBE, TestTokenArg, TestAuthToken,
  TestClientCerts (CLI modes, auth, TLS); TestSubmitInvalidWf (YAML parsing in the CLI, before
  any backend call); TestSubmitDryRun, TestSubmitServerDryRun,
  TestSubmitWorkflowTemplateDryRun, TestSubmitWorkflowTemplateServerDryRun,
  TestWorkflowDeleteDryRun, TestWorkflowStopDryRun, TestWorkflowTerminateDryRun (no dry-run);
  TestWorkflowStopBySelector, TestWorkflowStopByFieldSelector,
  TestWorkflowTerminateBySelector, TestWorkflowTerminateByFieldSelector,
  TestWorkflowResubmitByLabelSelector, TestWorkflowResubmitByFieldSelector,
  TestWorkflowDeleteByFieldSelector, TestWorkflowDeleteNothing, TestWorkflowDeleteAll,
  TestWorkflowDeleteCompleted, TestWorkflowDeleteResubmitted, TestWorkflowDeleteOlder,
  TestWorkflowDeleteByPrefix (stop/terminate/resubmit/delete take one name: no label or field
  selector, --all, --completed, --resubmitted, --older, --prefix); TestParametersFile
  (--parameter-file); TestRoot (CLI output formats of submit/list/get/delete);
  TestWorkflowLint, TestWorkflowOfflineLint, TestTemplateCommands,
  TestClusterTemplateCommands, TestWorkflowConvert (lint, template CRUD and convert commands;
  ``LocalBackend`` only applies templates); TestWorkflowCopyArtifact (``argo cp``);
  TestLogs' ContainerLogs, Since, SinceTime, TailLines and Grep (no wait container, no
  --since/--tail/--grep).
* Kubernetes objects or services the local runner has not: TestResourceTemplateStopAndTerminate
  (resource template), TestPluginStruct (executor plugin), TestCronCommands,
  TestCronWorkflowsBackfillCommands (cron controller), TestArchive, TestArchiveLabel (archive
  DB), TestConfigMapSyncCLI, TestDBSyncCLI (``argo sync`` limits in a ConfigMap / the DB).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.errors import Conflict, NotFound, SpecError
from tests.local.argo_e2e import (
    WHALESAY_TEMPLATE,
    e2e_workflow,
    find_display,
    from_workflow_template,
    wait_until,
)

Manifest = dict[str, Any]


def _started(workflow: Manifest) -> bool:
    """``fixtures.ToStart``."""
    return bool(workflow["status"].get("startedAt"))


# ------------------------------------------------------------ estimated_duration_test.go

# test/e2e/testdata/basic-workflowtemplate.yaml; harness adaptation: the container sleeps one
# second (``args: [sleep, 1s]``; the file has none, argosay then prints "hello argo"). Argo keeps
# whole seconds, and the estimate is the baseline workflow's duration in whole seconds: a pod on
# Kubernetes takes seconds, a local process ends within the second it started, which would make
# the baseline 0s and the estimate empty whatever the runner does.
BASIC_WORKFLOW_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: basic
spec:
  workflowMetadata:
    labels:
      workflows.argoproj.io/test: "true"
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        args: [sleep, 1s]
"""


def test_estimated_duration_workflow_template(backend: LocalBackend) -> None:
    """estimated_duration_test.go TestWorkflowTemplate"""
    backend.apply(e2e_workflow(BASIC_WORKFLOW_TEMPLATE))
    first = backend.submit(from_workflow_template("basic"))
    backend.wait(first, timeout=30)
    second = backend.submit(from_workflow_template("basic"))
    finished = wait_until(backend, second, lambda w: w["status"].get("phase") == "Succeeded")
    status = finished["status"]
    assert status.get("estimatedDuration")
    assert status["nodes"][finished["metadata"]["name"]].get("estimatedDuration")


# ------------------------------------------------------------ malformed_resources_test.go
#
# ``kubectl apply`` of these files is refused by the API server (the CRD schema wants a list);
# the local runner's counterparts are ``submit`` (Workflow) and ``apply`` (templates), which
# refuse with a SpecError. The API server's field path starts with a dot
# (".spec.arguments.parameters"); a SpecError's path has none, so the dot is not asserted.

MALFORMED = """
apiVersion: argoproj.io/v1alpha1
kind: {kind}
metadata:
  name: malformed
  labels:
    workflows.argoproj.io/test: malformed
spec:
  arguments:
    parameters:
      someParam: "Hello, world!"
"""

WELLFORMED_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: {kind}
metadata:
  name: wellformed
  labels:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
"""

WELLFORMED_WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: wellformed
  labels:
    workflows.argoproj.io/test: "true"
spec:
  workflowTemplateRef:
    name: {name}{cluster_scope}
"""

EXPECTED_LIST = "spec.arguments.parameters: expected list"
TEMPLATE_KINDS = pytest.mark.parametrize("kind", ["WorkflowTemplate", "ClusterWorkflowTemplate"])


def _wellformed_workflow(name: str, kind: str) -> Manifest:
    scope = "\n    clusterScope: true" if kind == "ClusterWorkflowTemplate" else ""
    return e2e_workflow(WELLFORMED_WORKFLOW.format(name=name, cluster_scope=scope))


def test_malformed_workflow(backend: LocalBackend) -> None:
    """malformed_resources_test.go TestMalformedWorkflow"""
    with pytest.raises(SpecError) as refused:
        backend.submit(e2e_workflow(MALFORMED.format(kind="Workflow")))
    assert EXPECTED_LIST in str(refused.value)


@TEMPLATE_KINDS
def test_malformed_template_refused(backend: LocalBackend, kind: str) -> None:
    """malformed_resources_test.go TestMalformedWorkflowTemplate, TestMalformedWorkflowTemplateRef,
    TestMalformedClusterWorkflowTemplate, TestMalformedClusterWorkflowTemplateRef: their first
    step, the malformed template refused."""
    with pytest.raises(SpecError) as refused:
        backend.apply(e2e_workflow(MALFORMED.format(kind=kind)))
    assert EXPECTED_LIST in str(refused.value)


@TEMPLATE_KINDS
def test_malformed_template_beside_wellformed(backend: LocalBackend, kind: str) -> None:
    """malformed_resources_test.go TestMalformedWorkflowTemplate,
    TestMalformedClusterWorkflowTemplate: after the refused malformed template (nothing stored,
    as on Argo; its refusal is test_malformed_template_refused), a well-formed template and a
    workflow referring to it."""
    backend.apply(e2e_workflow(WELLFORMED_TEMPLATE.format(kind=kind)))
    name = backend.submit(_wellformed_workflow("wellformed", kind))
    finished = backend.wait(name, timeout=30)
    assert finished["metadata"]["name"] == "wellformed"
    assert finished["status"]["phase"] == "Succeeded"


@TEMPLATE_KINDS
def test_malformed_template_ref(backend: LocalBackend, kind: str) -> None:
    """malformed_resources_test.go TestMalformedWorkflowTemplateRef,
    TestMalformedClusterWorkflowTemplateRef: after the refused malformed template (nothing
    stored; its refusal is test_malformed_template_refused), a workflow referring to it.

    On Argo the workflow is created and the controller marks it Error with the lister's
    NotFound; the local runner refuses it at submission (SpecError), so the message is that
    error's."""
    with pytest.raises(SpecError) as refused:
        backend.submit(_wellformed_workflow("malformed", kind))
    assert '"malformed" not found' in str(refused.value)


# --------------------------------------------------------------------------- cli_test.go

BASIC = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: basic-
spec:
  entrypoint: run-workflow
  templates:
    - name: run-workflow
      container:
        image: argoproj/argosay:v2
        args: [echo, ":) Hello Argo!"]
"""


def _lines(backend: LocalBackend, name: str, **options: Any) -> list[str]:
    return [line.content for line in backend.logs(name, **options)]


def test_logs(backend: LocalBackend) -> None:
    """cli_test.go TestLogs (FollowWorkflowLogs, FollowPodLogs, CompletedWorkflow; the other
    subtests are not ported, see the module docstring)."""
    name = backend.submit(e2e_workflow(BASIC))
    wait_until(backend, name, _started)
    wait_until(backend, name, lambda w: find_display(w, w["metadata"]["name"]) is not None)
    # FollowWorkflowLogs: argo logs NAME --follow
    assert any(":) Hello Argo!" in line for line in _lines(backend, name, follow=True))
    # FollowPodLogs: argo logs NAME NAME --follow (the pod of the workflow's only node)
    assert any(":) Hello Argo!" in line for line in _lines(backend, name, node=name, follow=True))
    # CompletedWorkflow: argo logs NAME --tail=10 once done; the line is the pod's only one, so
    # it is among the last ten (LocalBackend.logs has no tail option)
    backend.wait(name, timeout=30)
    assert any(":) Hello Argo!" in line for line in _lines(backend, name))


LOG_PROBLEMS = """
# This workflow produces a complex situation where logs.
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: log-problems-
spec:
  entrypoint: plan
  templates:
    - name: plan
      steps:
        - - name: report-1
            template: report
            arguments:
              parameters:
                - name: message
                  value: one
        - - name: report-2
            template: report
            arguments:
              parameters:
                - name: message
                  value: two
        - - name: report-3
            template: report
            arguments:
              parameters:
                - name: message
                  value: three
        - - name: report-4
            template: report
            arguments:
              parameters:
                - name: message
                  value: four
        - - name: report-5
            template: report
            arguments:
              parameters:
                - name: message
                  value: five
    - name: report
      inputs:
        parameters:
          - name: message
      container:
        image: argoproj/argosay:v2
        args: [echo, "{{inputs.parameters.message}}"]
"""


def _to_lines(lines: list[str]) -> list[str]:
    """``toLines``: non-empty lines without "argo=true"."""
    return [line for line in lines if line and "argo=true" not in line]


def test_log_problems(backend: LocalBackend) -> None:
    """cli_test.go TestLogProblems"""
    name = backend.submit(e2e_workflow(LOG_PROBLEMS))
    # ToHaveRunningPod; a local echo runs for milliseconds, so a poll may never see a pod
    # Running: ToStart instead, which holds earlier, so the follow covers at least as much
    wait_until(backend, name, _started)
    # logs should come in order: argo logs @latest --follow
    lines = _to_lines(_lines(backend, name, follow=True))
    assert len(lines) == 5
    for line, word in zip(lines, ["one", "two", "three", "four", "five"], strict=True):
        assert word in line
    # all log entries are received, in the correct order, once done: argo logs @latest
    backend.wait(name, timeout=30)
    lines = _to_lines(_lines(backend, name))
    assert len(lines) == 5
    for line, word in zip(lines, ["one", "two", "three", "four", "five"], strict=True):
        assert word in line


CLUSTER_WHALESAY_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata:
  name: cluster-workflow-template-whalesay-template
  labels:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay-template
  arguments:
    parameters:
      - name: message
        value: hello world
  templates:
    - name: whalesay-template
      inputs:
        parameters:
          - name: message
      container:
        image: argoproj/argosay:v2
        args: ["echo", "{{inputs.parameters.message}}"]
        imagePullPolicy: IfNotPresent
"""


def test_submit_cluster_workflow_template(backend: LocalBackend) -> None:
    """cli_test.go TestSubmitClusterWorkflowTemplate"""
    backend.apply(e2e_workflow(CLUSTER_WHALESAY_TEMPLATE))
    # argo submit --from clusterworkflowtemplate/... --name my-wf -l workflows.argoproj.io/test=true
    manifest = from_workflow_template(
        "cluster-workflow-template-whalesay-template", cluster_scope=True
    )
    manifest["metadata"]["name"] = "my-wf"
    manifest["metadata"]["labels"]["workflows.argoproj.io/test"] = "true"
    name = backend.submit(manifest)
    finished = wait_until(backend, name, lambda w: w["status"].get("phase") == "Succeeded")
    assert finished["metadata"]["name"] == "my-wf"


def test_workflow_template_ref_submit(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowTemplateRefSubmit"""
    # CreateWFT: argo template create smoke/workflow-template-whalesay-template.yaml
    backend.apply(e2e_workflow(WHALESAY_TEMPLATE))
    # CreateWF: argo submit testdata/workflow-template-ref.yaml -l workflows.argoproj.io/test=true
    first = backend.submit(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-hello-world-
  labels:
    workflows.argoproj.io/test: "true"
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
    # CreateCWFT: argo cluster-template create smoke/cluster-workflow-template-whalesay-template.yaml
    backend.apply(e2e_workflow(CLUSTER_WHALESAY_TEMPLATE))
    # CreateWFWithCWFTRef: argo submit testdata/cluster-workflow-template-ref.yaml -l ...test=true
    second = backend.submit(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-hello-world-
  labels:
    workflows.argoproj.io/no-test-broken: "true"
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay-template
  arguments:
    parameters:
      - name: message
        value: "hello world"
  workflowTemplateRef:
    name: cluster-workflow-template-whalesay-template
    clusterScope: true
""")
    )
    # The Go test asserts only that the submissions succeed; the runs are left to finish here.
    for name in (first, second):
        backend.wait(name, timeout=30)


def test_workflow_wait(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowWait"""
    name = backend.submit(e2e_workflow(BASIC))
    finished = backend.wait(name)  # argo wait NAME: prints "NAME Succeeded"
    assert re.fullmatch(r"basic-.*", name)
    assert finished["status"]["phase"] == "Succeeded"


def test_workflow_watch(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowWatch"""
    name = backend.submit(e2e_workflow(BASIC))
    # argo watch @latest prints the workflow ("Name: ..."): the watch delivers it
    event = next(e for e in backend.watch() if e.workflow["metadata"].get("name") == name)
    assert event.workflow["metadata"]["name"] == name
    backend.wait(name, timeout=30)


def test_workflow_delete_by_name(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowDeleteByName"""
    name = backend.submit(e2e_workflow(BASIC))
    backend.delete(name)  # argo delete NAME: "Workflow 'basic-...' deleted"
    assert re.fullmatch(r"basic-.*", name)
    with pytest.raises(NotFound):
        backend.get(name)


def test_workflow_delete_not_found(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowDeleteNotFound"""
    # argo delete prints the server's NotFound ("Workflow 'not-found' not found") and exits 0;
    # LocalBackend.delete is the server call, which raises it.
    with pytest.raises(NotFound) as missing:
        backend.delete("not-found")
    assert "'not-found' not found" in str(missing.value)


SUSPEND_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: suspend-template-
spec:
  entrypoint: suspend
  templates:
  - name: suspend
    steps:
    - - name: approve
        template: approve
      - name: approve-no-vars
        template: approve-no-vars
    - - name: release
        template: whalesay
        arguments:
          parameters:
            - name: message
              value: "{{steps.approve.outputs.parameters.message}}"

  - name: approve
    suspend: {}
    outputs:
      parameters:
        - name: message
          valueFrom:
            supplied: {}

  - name: approve-no-vars
    suspend: {}

  - name: whalesay
    inputs:
      parameters:
        - name: message
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.message}}"]
"""


def test_argo_set_outputs(backend: LocalBackend) -> None:
    """cli_test.go TestArgoSetOutputs"""
    name = backend.submit(e2e_workflow(SUSPEND_TEMPLATE))
    # ToStart; on Argo the first pass that sets startedAt also creates both suspend nodes
    wait_until(
        backend,
        name,
        lambda w: (
            _started(w)
            and all(find_display(w, d) is not None for d in ("approve", "approve-no-vars"))
        ),
    )
    with pytest.raises(Conflict) as refused:  # argo resume @latest
        backend.resume(name)
    assert "has not been set and does not have a default value" in str(refused.value)
    set_node = backend.set_node  # argo node set
    set_node(
        name,
        output_parameters={"message": "Hello, World!"},
        node_field_selector="displayName=approve",
    )
    with pytest.raises(Conflict) as again:  # cannot double-set the same parameter
        set_node(
            name,
            output_parameters={"message": "Hello, World!"},
            node_field_selector="displayName=approve",
        )
    assert "it was already set" in str(again.value)
    with pytest.raises(Conflict) as no_vars:
        set_node(
            name,
            output_parameters={"message": "Hello, World!"},
            node_field_selector="displayName=approve-no-vars",
        )
    assert "cannot set output parameters because node is not expecting any raw parameters" in str(
        no_vars.value
    )
    set_node(name, message="Test message", node_field_selector="displayName=approve")
    backend.resume(name)
    finished = backend.wait(name, timeout=30)
    status = finished["status"]
    assert status["phase"] == "Succeeded"
    release = find_display(finished, "release")
    assert release is not None
    assert release["inputs"]["parameters"][0]["value"] == "Hello, World!"
    approve = find_display(finished, "approve")
    assert approve is not None
    # The Go test resumes through argo-server, whose service account ResumeWorkflow records
    # ("Resumed by: map[User:system:serviceaccount:argo:argo-server]"); a local call has no
    # caller identity, Argo's UserInfoMap == nil case, where the text after "; " is empty.
    assert approve["message"] == "Test message; "
