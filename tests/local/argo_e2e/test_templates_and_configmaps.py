"""Argo's e2e tests of ConfigMap-sourced parameters, overridable inputs and WorkflowTemplates
(Argo v4.1.2), run on the local runner with the Go tests' own assertions:

- ``test/e2e/workflow_configmap_substitution_test.go`` (all five tests),
- ``test/e2e/workflow_inputs_orverridable_test.go`` (all four tests),
- ``test/e2e/workflow_template_test.go`` (all but the two below),
- ``test/e2e/workflow_test.go`` TestWorkflowInlinePodName.

Workflows are copied from the Go test or its yaml file (``testdata/``, ``smoke/``). Harness
adaptations, each noted where made: the fixture's ``CreateConfigMap`` becomes ``backend.apply``
of the same ConfigMap (``Wait(1s)`` and ``DeleteConfigMap`` have nothing to wait for or clean
up here); ``SubmitWorkflowsFromWorkflowTemplates`` submits the Workflow Argo's
``common.NewWorkflowFromWorkflowTemplate`` builds; ``/argosay`` (the argosay image's own path)
runs the copied script; ``cowsay`` (not on this host) becomes ``echo``; ``ExpectPVCDeleted``
is dropped (it lists the cluster's PersistentVolumeClaims).

Skipped Go tests (they need a cluster): TestSubmitWorkflowTemplateResourceUnquotedExpressions
(a ``resource`` template creating a Kubernetes Pod), TestSubmitWorkflowTemplateWithParallelSteps
RequiringPVC (volumeClaimTemplates PVCs, checked with ``ExpectPVCDeleted``).

Six tests are strict xfails, each a divergence of the local runner from Argo (see reasons).
"""

from __future__ import annotations

from typing import Any

from engine.backends.argo.pod_names import pod_name
from engine.backends.local import LocalBackend
from tests.local.argo_e2e import (
    ARGOSAY,
    WHALESAY_TEMPLATE,
    e2e_template,
    e2e_workflow,
    from_workflow_template,
    with_argosay,
)
from tests.local.conftest import stdout_of

Manifest = dict[str, Any]

WORKFLOW_TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"  # LabelKeyWorkflowTemplate


def _argosay_path(manifest: Manifest) -> Manifest:
    """``command: [/argosay]`` (the image's script at its path there) runs the copied script."""
    manifest = with_argosay(manifest)
    for tmpl in (manifest.get("spec") or {}).get("templates") or []:
        body = tmpl.get("container") or {}
        if body.get("command") == ["/argosay"]:
            body["command"] = ["sh", str(ARGOSAY)]
    return manifest


def _workflow_template(text: str) -> Manifest:
    return _argosay_path(e2e_template(text))


def _config_map(name: str, data: dict[str, str], labels: dict[str, str]) -> Manifest:
    """What the fixture's ``CreateConfigMap(name, data, labels)`` creates."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": data,
    }


PARAMETER = {"workflows.argoproj.io/configmap-type": "Parameter"}


def _entry_inputs(wf: Manifest) -> list[str]:
    """``status.Nodes[metadata.Name].Inputs.Parameters[*].Value.String()``."""
    node = wf["status"]["nodes"][wf["metadata"]["name"]]
    return [str(p.get("value")) for p in (node.get("inputs") or {}).get("parameters") or []]


def _entry_outputs(wf: Manifest) -> list[str]:
    node = wf["status"]["nodes"][wf["metadata"]["name"]]
    return [str(p.get("value")) for p in (node.get("outputs") or {}).get("parameters") or []]


# ------------------------------------------------------ workflow_configmap_substitution_test.go


def test_key_substitution(backend: LocalBackend) -> None:
    """workflow_configmap_substitution_test.go TestKeySubstitution"""
    backend.apply(_config_map("cmref-parameters", {"msg": "hello world"}, PARAMETER))
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-configmapkeyselector-wf-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
    - name: message
      value: msg
  templates:
  - name: whalesay
    inputs:
      parameters:
      - name: message
        valueFrom:
          configMapKeyRef:
            name: cmref-parameters
            key: '{{ workflow.parameters.message }}'
    container:
      image: argoproj/argosay:v2
      args:
        - echo
        - "{{inputs.parameters.message}}"
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_name_substitution(backend: LocalBackend) -> None:
    """workflow_configmap_substitution_test.go TestNameSubstitution"""
    backend.apply(_config_map("cmref-parameters", {"msg": "hello world"}, PARAMETER))
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-configmapkeyselector-wf-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
    - name: cm-name
      value: cmref-parameters
  templates:
  - name: whalesay
    inputs:
      parameters:
      - name: message
        valueFrom:
          configMapKeyRef:
            name: '{{ workflow.parameters.cm-name}}'
            key: msg
    container:
      image: argoproj/argosay:v2
      args:
        - echo
        - "{{inputs.parameters.message}}"
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_invalid_name_parameter_substitution(backend: LocalBackend) -> None:
    """workflow_configmap_substitution_test.go TestInvalidNameParameterSubstitution"""
    # No ConfigMap is created: the workflow ends Error (WaitForWorkflow(fixtures.ToBeErrored)).
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-configmapkeyselector-wf-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
    - name: cm-name
      value: cmref-parameters
  templates:
  - name: whalesay
    inputs:
      parameters:
      - name: message
        valueFrom:
          configMapKeyRef:
            name: '{{ workflow.parameters.cm-name }}'
            key: msg
    container:
      image: argoproj/argosay:v2
      args:
        - echo
        - "{{inputs.parameters.message}}"
""")
    )
    assert wf["status"]["phase"] == "Error"


def test_default_param_value_when_not_found(backend: LocalBackend) -> None:
    """workflow_configmap_substitution_test.go TestDefaultParamValueWhenNotFound"""
    backend.apply(_config_map("cmref-parameters", {"msg": "hello world"}, PARAMETER))
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-configmapkeyselector-wf-default-param-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
    - name: message
      value: msg
  templates:
  - name: whalesay
    inputs:
      parameters:
      - name: message
        valueFrom:
          default: "default-val"
          configMapKeyRef:
            name: cmref-parameters
            key: not-existing-key
    container:
      image: argoproj/argosay:v2
      args:
        - echo
        - "{{inputs.parameters.message}}"
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_global_arg_default_cm_param_value_when_not_found(backend: LocalBackend) -> None:
    """workflow_configmap_substitution_test.go TestGlobalArgDefaultCMParamValueWhenNotFound"""
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-cmkeyselector-wf-global-arg-default-param-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
      - name: simple-global-param
        valueFrom:
          default: "default value"
          configMapKeyRef:
            name: not-existing-cm
            key: not-existing-key
  templates:
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["sleep 1; echo -n {{workflow.parameters.simple-global-param}} > /tmp/message.txt"]
      outputs:
        parameters:
         - name: message
           valueFrom:
             path: /tmp/message.txt
""")
    )
    assert _entry_outputs(wf)[0] == "default value"
    assert wf["status"]["phase"] == "Succeeded"


# ------------------------------------------------------ workflow_inputs_orverridable_test.go


def test_args_value_params_override_input_params_value_from(backend: LocalBackend) -> None:
    """workflow_inputs_orverridable_test.go TestArgsValueParamsOverrideInputParamsValueFrom"""
    backend.apply(_config_map("cmref-parameters", {"cmref-key": "input-value"}, PARAMETER))
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-inputs-overridable-wf-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
      - name: message
        value: arg-value
  templates:
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        args:
        - echo
        - "{{inputs.parameters.message}}"
      inputs:
        parameters:
          - name: message
            valueFrom:
              configMapKeyRef:
                name: cmref-parameters
                key: cmref-key
""")
    )
    assert _entry_inputs(wf)[0] == "arg-value"
    assert wf["status"]["phase"] == "Succeeded"


def test_args_value_from_params_override_input_params_value_from(backend: LocalBackend) -> None:
    """workflow_inputs_orverridable_test.go TestArgsValueFromParamsOverrideInputParamsValueFrom"""
    backend.apply(_config_map("cmref-parameters", {"cmref-key": "input-value"}, PARAMETER))
    backend.apply(_config_map("new-cmref-parameters", {"cmref-key": "arg-value"}, PARAMETER))
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-inputs-overridable-wf-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
      - name: message
        valueFrom:
          configMapKeyRef:
            name: new-cmref-parameters
            key: cmref-key
  templates:
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        args:
        - echo
        - "{{inputs.parameters.message}}"
      inputs:
        parameters:
          - name: message
            valueFrom:
              configMapKeyRef:
                name: cmref-parameters
                key: cmref-key
""")
    )
    assert _entry_inputs(wf)[0] == "arg-value"
    assert wf["status"]["phase"] == "Succeeded"


def test_args_value_params_override_input_params_value(backend: LocalBackend) -> None:
    """workflow_inputs_orverridable_test.go TestArgsValueParamsOverrideInputParamsValue"""
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-wf-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
      - name: message
        value: arg-value
  templates:
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        args:
        - echo
        - "{{inputs.parameters.message}}"
      inputs:
        parameters:
          - name: message
            value: input-value
""")
    )
    assert _entry_inputs(wf)[0] == "arg-value"
    assert wf["status"]["phase"] == "Succeeded"


def test_args_value_from_params_override_input_params_value(backend: LocalBackend) -> None:
    """workflow_inputs_orverridable_test.go TestArgsValueFromParamsOverrideInputParamsValue"""
    backend.apply(_config_map("cmref-parameters", {"cmref-key": "arg-value"}, PARAMETER))
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-inputs-overridable-wf-
  label:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay
  arguments:
    parameters:
      - name: message
        valueFrom:
          configMapKeyRef:
            name: cmref-parameters
            key: cmref-key
  templates:
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        args:
        - echo
        - "{{inputs.parameters.message}}"
      inputs:
        parameters:
          - name: message
            value: input-value
""")
    )
    assert _entry_inputs(wf)[0] == "arg-value"
    assert wf["status"]["phase"] == "Succeeded"


# ------------------------------------------------------ workflow_template_test.go

NESTED_TEMPLATE = """apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: workflow-template-nested-template
spec:
  templates:
    - name: whalesay-inner-template
      inputs:
        parameters:
          - name: message
      steps:
        - - name: step
            arguments:
              parameters:
                - name: message
                  value: "{{inputs.parameters.message}}"
            templateRef:
              name: workflow-template-whalesay-template
              template: whalesay-template
    - name: whalesay-template
      inputs:
        parameters:
          - name: message
      steps:
        - - name: step
            arguments:
              parameters:
                - name: message
                  value: "{{inputs.parameters.message}}"
            template: whalesay-inner-template
"""  # test/e2e/testdata/workflow-template-nested-template.yaml


def test_nested_workflow_template(backend: LocalBackend) -> None:
    """workflow_template_test.go TestNestedWorkflowTemplate"""
    backend.apply(_workflow_template(NESTED_TEMPLATE))
    backend.apply(_workflow_template(WHALESAY_TEMPLATE))
    wf = backend.run(
        e2e_workflow("""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-template-nested-
spec:
  entrypoint: whalesay
  templates:
  - name: whalesay
    steps:
      - - name: call-whalesay-template
          templateRef:
            name: workflow-template-nested-template
            template: whalesay-template
          arguments:
            parameters:
            - name: message
              value: "hello from nested"
""")
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_submit_workflow_template_with_enum(backend: LocalBackend) -> None:
    """workflow_template_test.go TestSubmitWorkflowTemplateWithEnum"""
    backend.apply(
        _workflow_template("""apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: workflow-template-with-enum-values
spec:
  entrypoint: argosay
  arguments:
    parameters:
      - name: message
        value: one
        enum:
          -   one
          -   two
          -   three
  workflowMetadata:
    labels:
      workflows.argoproj.io/test: "true"
  templates:
    - name: argosay
      inputs:
        parameters:
          - name: message
            value: '{{workflow.parameters.message}}'
      container:
        name: main
        image: 'argoproj/argosay:v2'
        command:
          - /argosay
        args:
          - echo
          - '{{inputs.parameters.message}}'
""")
    )
    wf = backend.run(from_workflow_template("workflow-template-with-enum-values"))
    assert wf["status"]["phase"] == "Succeeded"


def test_submit_workflow_template_workflow_metadata_substitution(backend: LocalBackend) -> None:
    """workflow_template_test.go TestSubmitWorkflowTemplateWorkflowMetadataSubstitution"""
    backend.apply(
        _workflow_template("""apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: workflow-template-submittable
spec:
  entrypoint: whalesay-template
  templates:
    - name: whalesay-template
      container:
        image: 'argoproj/argosay:v2'
        command:
          - echo   # Argo: /argosay; see below
        args:
          - echo
          - '{{workflow.labels.arg-name}}'
          - '{{workflow.labels.default-label}}'
  workflowMetadata:
    labels:
      arg-name: myLabelArg
""")
    )
    # ``/argosay echo MSG PATH`` writes MSG to PATH relative to the working directory, "/",
    # which the local sandbox keeps read-only (a container's root is writable): the command
    # is ``echo``, which prints the args the Go test reads off the pod.
    manifest = from_workflow_template("workflow-template-submittable")
    # The e2e controller's workflowDefaults (test/e2e/manifests/components/base/
    # workflow-controller-configmap.yaml) add ``workflowMetadata.labels.default-label``, which
    # the controller sets on the workflow's labels; the local runner has no controller
    # configuration, so the submitted workflow carries that label itself.
    manifest["metadata"]["labels"]["default-label"] = "thisLabelIsFromWorkflowDefaults"
    wf = backend.run(manifest)
    pods = [
        n
        for n in wf["status"]["nodes"].values()
        if n["type"] == "Pod" and n["phase"] == "Succeeded"
    ]
    assert pods, "wfv1.SucceededPodNode finds a node"
    # Argo reads the main container's args off the pod; there is no pod here, so the
    # template's command is ``echo`` and the args are read back from what it printed.
    args = stdout_of(backend, pods[0]).split(" ")
    assert len(args) == 3
    assert args[0] == "echo"
    assert args[1] == "myLabelArg"
    assert args[2] == "thisLabelIsFromWorkflowDefaults"


def test_workflow_template_invalid_on_exit(backend: LocalBackend) -> None:
    """workflow_template_test.go TestWorkflowTemplateInvalidOnExit"""
    backend.apply(
        _workflow_template("""apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: workflow-template-invalid-onexit
spec:
  volumeClaimTemplates:
    - metadata:
        name: builddir
      spec:
        accessModes: [ "ReadWriteMany" ]
        resources:
          requests:
            storage: 1Mi
  volumeClaimGC:
    strategy: OnWorkflowCompletion
  entrypoint: whalesay
  onExit: notify
  templates:
    - name: whalesay
      container:
        image: 'argoproj/argosay:v2'
        command:
          - /argosay
        args:
          - echo
          - 'hello world'
    - name: notify
      container:
        image: 'argoproj/argosay:v2'
        command: [sh, -c]
        args: ["exit 0"]
        volumeMounts:
          - name: foo # <<< invalid since no volume `foo`
""")
    )
    wf = backend.run(
        e2e_workflow("""
metadata:
  generateName: workflow-template-invalid-onexit-
spec:
  workflowTemplateRef:
    name: workflow-template-invalid-onexit
""")
    )
    assert wf["status"]["phase"] == "Error"
    assert "error in exit template execution" in wf["status"].get("message", "")


def test_workflow_template_with_hook(backend: LocalBackend) -> None:
    """workflow_template_test.go TestWorkflowTemplateWithHook"""
    template = _workflow_template("""apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: hook
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        # To avoid flakiness, we sleep 1 second.
        args: ["/bin/sleep 1; /argosay"]

  hooks:
    running:
      expression: workflow.status == "Running"
      template: main
    succeed:
      expression: workflow.status == "Succeeded"
      template: main
""")
    # ``/argosay`` is the image's script: run the copied one.
    template["spec"]["templates"][0]["container"]["args"] = [f"/bin/sleep 1; sh {ARGOSAY}"]
    backend.apply(template)
    wf = backend.run(
        e2e_workflow("""
metadata:
  generateName: workflow-template-hook-
spec:
  workflowTemplateRef:
    name: hook
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    nodes = list(wf["status"]["nodes"].values())
    for hook in ("hooks.running", "hooks.succeed"):
        found = [n for n in nodes if hook in n["name"]]
        assert found, "Did not find expected node"
        assert found[0]["phase"] == "Succeeded"


def test_workflow_template_invalid_entry_point(backend: LocalBackend) -> None:
    """workflow_template_test.go TestWorkflowTemplateInvalidEntryPoint"""
    backend.apply(
        _workflow_template("""apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: workflow-template-invalid-entrypoint
spec:
  volumeClaimTemplates:
    - metadata:
        name: builddir
      spec:
        accessModes: [ "ReadWriteMany" ]
        resources:
          requests:
            storage: 1Mi
  volumeClaimGC:
    strategy: OnWorkflowCompletion
  entrypoint: whalesay
  onExit: notify
  templates:
    - name: whalesay
      container:
        image: 'argoproj/argosay:v2'
        command:
          - /argosay
        args:
          - echo
          - 'hello world'
        volumeMounts:
          - name: foo # <<< invalid since no volume `foo`
    - name: notify
      container:
        image: 'argoproj/argosay:v2'
        command: [sh, -c]
        args: ["exit 0"]
""")
    )
    wf = backend.run(
        e2e_workflow("""
metadata:
  generateName: workflow-template-invalid-entrypoint-
spec:
  workflowTemplateRef:
    name: workflow-template-invalid-entrypoint
""")
    )
    assert wf["status"]["phase"] == "Error"
    assert "error in entry template execution" in wf["status"].get("message", "")


def test_workflow_from_workflow_template_has_label(backend: LocalBackend) -> None:
    """workflow_template_test.go TestWorkflowFromWorkflowTemplateHasLabel"""
    backend.apply(
        _workflow_template("""apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: workflow-template-label-test
spec:
  entrypoint: whalesay
  templates:
  - name: whalesay
    container:
      image: argoproj/argosay:v2
      command: [/argosay]""")
    )
    wf = backend.run(
        e2e_workflow("""
metadata:
  generateName: workflow-from-template-label-
spec:
  workflowTemplateRef:
    name: workflow-template-label-test
""")
    )
    assert wf["status"]["phase"] == "Succeeded"  # WaitForWorkflow(fixtures.ToBeSucceeded)
    assert wf["metadata"]["labels"].get(WORKFLOW_TEMPLATE_LABEL) == "workflow-template-label-test"


# ------------------------------------------------------ workflow_test.go


def test_workflow_inline_pod_name(backend: LocalBackend) -> None:
    """workflow_test.go TestWorkflowInlinePodName"""
    wf = backend.run(
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: steps-inline-
  labels:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: a
            inline:
              container:
                image: argoproj/argosay:v2
                command:
                  - echo   # Argo: cowsay (not on this host)
                args:
                  - "foo"
""")
    )
    assert wf["status"]["phase"] == "Succeeded"
    # The fixture finds the first node whose name contains "a" (Kubernetes' generated suffix
    # has no vowels; the local one may, so the workflow name is left out of the match) and
    # reads the pod ``util.GeneratePodName`` names for it. The local runner keeps no pod
    # objects: the pod's name is the one it gives the node (``{{pod.name}}``, podName).
    name = wf["metadata"]["name"]
    node = next(n for n in wf["status"]["nodes"].values() if "a" in n["name"][len(name) :])
    assert node["type"] == "Pod"
    assert "--" not in pod_name(wf, node)
