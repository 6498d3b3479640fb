"""The local runner refuses at submission what Argo's validator refuses, with Argo's message,
and accepts what it accepts (engine/backends/local/argo_validation, a port of
workflow/validate/validate.go, Argo v4.1.2).

The workflows are Argo's own test cases, copied unmodified into
``tests/local/data/argo-validate`` (one file per Go variable, Apache-2.0, see each file's
header); each test names the Go test it ports. A refused workflow is submitted through
``LocalBackend.submit``: it raises ``SpecError`` and nothing is stored, so no node ever runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.backends.local import LocalBackend, validate_workflow
from engine.backends.local.argo_validation import Invalid, validate_argo_workflow
from engine.backends.local.argo_validation.graph import DagGraph
from engine.errors import SpecError
from tests.local.conftest import shell_template, workflow_manifest

DATA = Path(__file__).parent / "data" / "argo-validate"


def argo_case(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DATA / f"{name}.yaml").read_text())
    return loaded


def as_workflow(manifest: dict[str, Any]) -> dict[str, Any]:
    """A WorkflowTemplate's test case as a Workflow: Argo's ``WorkflowTemplate`` validates
    its spec as a Workflow's (with ``Submit``, every argument needs a value)."""
    return {**manifest, "kind": "Workflow", "metadata": {"generateName": "from-template-"}}


def refused(backend: LocalBackend, manifest: dict[str, Any]) -> SpecError:
    """Submit ``manifest``; it must be refused before anything is stored or run."""
    with pytest.raises(SpecError) as caught:
        backend.submit(manifest)
    assert backend.list() == []
    return caught.value


def apply_templates(backend: LocalBackend, *names: str) -> None:
    for name in names:
        backend.apply(argo_case(name))


# ---------------------------------------------------------------------------- refused

# (Go test, workflow variable, the text Argo's test expects in the error)
REFUSED = [
    (
        "TestDuplicateOrEmptyNames",
        "dupTemplateNames",
        "spec.templates[1].name 'whalesay' is not unique",
    ),
    (
        "TestDuplicateOrEmptyNames",
        "dupInputNames",
        "templates.whalesay.inputs.parameters[1].name 'dup' is not unique",
    ),
    (
        "TestDuplicateOrEmptyNames",
        "emptyName",
        "templates.whalesay.inputs.parameters[0].name is required",
    ),
    (
        "TestUnresolved",
        "unresolvedInput",
        "templates.whalesay: failed to resolve {{inputs.parameters.unresolved}}",
    ),
    (
        "TestUnresolved",
        "unresolvedStepInput",
        "templates.entry-step.steps[0].a templates.whalesay: failed to resolve {{inputs.parameters.message}}",
    ),
    (
        "TestUnresolved",
        "unresolvedOutput",
        "templates.unresolved-output-steps.outputs failed to resolve {{steps.whalesay.outputs.parameters.unresolved}}",
    ),
    (
        "TestGlobalParam",
        "unsuppliedArgValue",
        "spec.arguments.missing.value or spec.arguments.missing.valueFrom is required",
    ),
    (
        "TestInvalidTemplateName",
        "invalidTemplateNames",
        "spec.templates[0].name: 'whalesay_d' is invalid: name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character (e.g. My-name1-2, 123-NAME)",
    ),
    (
        "TestInvalidArgParamName",
        "invalidArgParamNames",
        "spec.arguments.parameters[0].name: 'param#1' is invalid: Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1",
    ),
    (
        "TestInvalidArgArtName",
        "invalidArgArtNames",
        "spec.arguments.artifacts[0].name: '&-kubectl' is invalid",
    ),
    (
        "TestInvalidStepName",
        "invalidStepNames",
        "templates.hello-hello-hello.steps[0].name 'hello1.blah' is invalid",
    ),
    (
        "TestInvalidInputParamName",
        "invalidInputParamNames",
        "templates.whalesay.inputs.parameters[0].name: 'message+123' is invalid",
    ),
    (
        "TestInvalidInputArtName",
        "invalidInputArtNames",
        "templates.whalesay.inputs.artifacts[0].name: 'test(jpg' is invalid",
    ),
    (
        "TestInvalidOutputArtName",
        "invalidOutputArtNames",
        "templates.whalesay.outputs.artifacts [0].name: '!1' is invalid",
    ),
    (
        "TestInvalidOutputParam",
        "invalidOutputParamNames",
        "templates.whalesay.outputs.parameters [0].name: 'blah-122lsfj}' is invalid",
    ),
    (
        "TestInvalidOutputParam",
        "invalidOutputMissingValueFrom",
        "templates.whalesay.outputs.parameters.outparam does not have valueFrom or value specified",
    ),
    (
        "TestInvalidOutputParam",
        "invalidOutputMultipleValueFrom",
        "multiple valueFrom types specified. choose one of: path, jqFilter, jsonPath, parameter, raw",
    ),
    (
        "TestInvalidOutputParam",
        "invalidOutputIncompatibleValueFromPath",
        "templates.whalesay.outputs.parameters.outparam.path must be specified for Container templates",
    ),
    (
        "TestInvalidOutputParam",
        "invalidOutputIncompatibleValueFromParam",
        "templates.my-steps.outputs.parameters.myoutput.parameter or expression must be specified for Steps templates",
    ),
    (
        "TestMultipleTemplateTypes",
        "multipleTemplateTypes",
        "templates.whalesay multiple template types specified. choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref",
    ),
    (
        "TestExitHandler",
        "workflowStatusNotOnExit",
        "templates.pass: failed to resolve {{workflow.failures}}",
    ),
    (
        "TestVolumeMountArtifactPathCollision",
        "volumeMountArtifactPathCollision",
        "templates.pass.inputs.artifacts[0].path '/src' already mounted in container.volumeMounts.workdir",
    ),
    (
        "TestValidActiveDeadlineSeconds",
        "activeDeadlineSeconds",
        "templates.pass.activeDeadlineSeconds must be a positive integer > 0 or an argo variable",
    ),
    (
        "TestLeafWithParallelism",
        "leafWithParallelism",
        "templates.leaf-with-parallelism.parallelism is only valid for steps and dag templates",
    ),
    (
        "TestInvalidArgumentNoFromOrLocation",
        "invalidStepsArgumentNoFromOrLocation",
        "templates.no-location-or-from.steps[0].whalesay.arguments.art.from, artifact location, or key is required",
    ),
    (
        "TestInvalidArgumentNoFromOrLocation",
        "invalidDAGArgumentNoFromOrLocation",
        "templates.no-location-or-from.tasks.whalesay.arguments.art.from, artifact location, or key is required",
    ),
    (
        "TestInvalidArgumentNoValue",
        "invalidArgumentNoValue",
        "templates.no-location-or-from.steps[0].whalesay.arguments.art.value or templates.no-location-or-from.steps[0].whalesay.arguments.art.valueFrom is required",
    ),
    (
        "TestParamWithoutValue",
        "paramWithoutValue",
        "templates.whalesay inputs.parameters.message was not supplied",
    ),
    (
        "TestSpecArgumentNoValue",
        "specArgumentNoValue",
        "spec.arguments.required-param.value or spec.arguments.required-param.valueFrom is required",
    ),
    (
        "TestSpecBadSequenceCountAndEnd",
        "specBadSequenceCountAndEnd",
        "templates.loops-sequence.steps[0].print-num only one of count or end can be defined in withSequence",
    ),
    (
        "TestUndefinedTemplateRef",
        "undefinedTemplateRef",
        "templates.A.steps[0].call-A template reference foo.echo not found",
    ),
    (
        "TestTemplateRefWithPlaceholderInNameIsNotSkipped",
        "templateRefWithPlaceholderInName",
        "template reference foo.run-placeholder-task not found",
    ),
    (
        "TestInvalidResourceWorkflow",
        "invalidResourceWorkflow",
        "templates.whalesay.resource.manifest must be a valid yaml",
    ),
    (
        "TestInvalidResourceWorkflow",
        "invalidActionResourceWorkflow",
        "templates.whalesay.resource.action must be one of: get, create, apply, delete, replace, patch",
    ),
    ("TestIncorrectPodGCStrategy", "invalidPodGC", "podGC.strategy unknown strategy 'Foo'"),
    (
        "TestInvalidMetricName",
        "invalidMetricName",
        "templates.whalesay metric name 'invalid.metric.name' is invalid. Metric names must contain alphanumeric characters or '_'",
    ),
    (
        "TestInvalidMetricLabelName",
        "invalidMetricLabelName",
        "metric label 'invalid.key' is invalid: keys may only contain alphanumeric characters or '_'",
    ),
    (
        "TestInvalidMetricHelp",
        "invalidMetricHelp",
        "templates.whalesay metric 'metric_name' must contain a help string under 'help: ' field",
    ),
    (
        "TestInvalidMetricGauge",
        "invalidRealtimeMetricGauge",
        "templates.whalesay metric 'metric_name' error: 'resourcesDuration.*' metrics cannot be used in real-time",
    ),
    (
        "TestInvalidNoValueMetricGauge",
        "invalidNoValueMetricGauge",
        "templates.whalesay metric 'metric_name' error: missing gauge.value",
    ),
    (
        "TestInvalidWfNoImageField",
        "invalidWfNoImage",
        "templates.whalesay.container.image may not be empty",
    ),
    (
        "TestInvalidWfNoImageFieldScript",
        "invalidWfNoImageScript",
        "templates.whalesay.script.image may not be empty",
    ),
    (
        "TestIinvalidWfNoImageScriptInTemplateDefault",
        "invalidWfNoImageScriptInTemplateDefault",
        "templates.whalesay.script.image may not be empty",
    ),
    (
        "TestInvalidContainerSetDependencyNotFound",
        "invalidContainerSetDependencyNotFound",
        "templates.main.containerSet.containers.b dependency 'c' not defined",
    ),
    (
        "TestReservedAuxContainerNames",
        "containerSetSupervisor",
        'templates.main.containerSet.containers: "supervisor" is a reserved Argo container name',
    ),
    (
        "TestReservedAuxContainerNames",
        "sidecarWait",
        'templates.main.sidecars: "wait" is a reserved Argo container name',
    ),
    (
        "TestInvalidContainerSetNoMainContainer",
        "invalidContainerSetTemplateWithInputArtifacts",
        'templates.main.containerSet.containers must have a container named "main" for input or output',
    ),
    (
        "TestInvalidContainerSetNoMainContainer",
        "invalidContainerSetTemplateWithOutputArtifacts",
        'containerSet.containers must have a container named "main" for input or output',
    ),
    (
        "TestInvalidContainerSetNoMainContainer",
        "invalidContainerSetTemplateWithOutputParams",
        'containerSet.containers must have a container named "main" for input or output',
    ),
    (
        "TestInitContainerHasName",
        "testInitContainerHasName",
        "templates.main.tasks.spurious initContainers must all have container name",
    ),
    (
        "TestShouldCheckValidationToSpacedParameters",
        "spacedParameterWorkflowTemplate",
        "failed to resolve {{  workflow.thisdoesnotexist  }}",
    ),
    (
        "TestDynamicStepNameInvalidSkeletonStillFails",
        "dynamicStepNameInvalidSkeleton15896",
        "is invalid",
    ),
    (
        "TestWorkflowWithoutParameterizedArtifactsFails",
        "workflowWithoutParameterizedArtifacts",
        "failed to resolve {{workflow.outputs.artifacts.nonexistent}}",
    ),
    (
        "TestPodResourcesValidation",
        "podResourcesInvalidResourceName",
        'spec.podResources: "nvidia.com/gpu" is not a valid pod-level resource',
    ),
    (
        "TestPodResourcesValidation",
        "podResourcesClaims",
        "templates.main.podResources.claims is not supported",
    ),
    (
        "TestPodResourcesValidation",
        "podResourcesOnHTTPTemplate",
        "templates.main.podResources is not supported for HTTP templates",
    ),
    (
        "TestPodResourceClaimsValidation",
        "resourceClaimsOnHTTPTemplate",
        "templates.main.resourceClaims is not supported for HTTP templates",
    ),
    (
        "TestPodResourceClaimsValidation",
        "resourceClaimsOnStepsTemplate",
        "templates.main.resourceClaims is not supported for Steps templates, which do not create a pod",
    ),
    (
        "TestWorkflowTemplateWithEmptyEnumList",
        "workflowTemplateWithEmptyEnumList",
        "spec.arguments.message.enum should contain at least one value",
    ),
    (
        "TestWorkflowTemplateWithArgumentValueNotFromEnumList",
        "workflowTemplateWithArgumentValueNotFromEnumList",
        "spec.arguments.message.value should be present in spec.arguments.message.enum list",
    ),
    (
        "TestWorkflowTemplateWithEnumValueWithoutValue",
        "workflowTeamplateWithEnumValuesWithoutValue",
        "spec.arguments.message.value or spec.arguments.message.valueFrom is required",
    ),
    (
        "TestStepStatusReferenceNoFutureReference",
        "stepStatusReferencesNoFutureReference",
        "failed to resolve {{steps.two.status}}",
    ),
    # validate_dag_test.go
    ("TestDAGCycle", "dagCycle", "templates.cycle sorting failed: graph with cycle"),
    (
        "TestAnyWithoutExpandingTask",
        "dagAnyWithoutExpandingTask",
        "templates.entry.tasks.A dependency 'A' uses an items-based condition such as .AnySucceeded or .AllFailed but does not contain any items",
    ),
    (
        "TestDAGUndefinedTemplate",
        "dagUndefinedTemplate",
        "templates.undef.tasks.A template name 'echo' undefined",
    ),
    (
        "TestDAGVariableResolution",
        "dagUnresolvedVar",
        "failed to resolve {{tasks.A.outputs.parameters.unresolvable}}",
    ),
    (
        "TestDAGVariableResolution",
        "dagResolvedVarNotAncestor",
        "templates.unresolved.tasks.C missing dependency 'B' for parameter 'message'",
    ),
    (
        "TestDAGStatusReference",
        "dagStatusNoFutureReferenceSimple",
        "failed to resolve {{tasks.B.status}}",
    ),
    (
        "TestDAGStatusReference",
        "dagStatusNoFutureReferenceWhenFutureReferenceHasChild",
        "failed to resolve {{tasks.B.status}}",
    ),
    (
        "TestDAGStatusReference",
        "dagStatusOnlyDirectAncestors",
        "failed to resolve {{tasks.B.status}}",
    ),
    (
        "TestDAGNonExistantTarget",
        "dagNonexistantTarget",
        "templates.dag-target.targets: target 'DOESNTEXIST' is not defined",
    ),
    (
        "TestDAGTargetMissingInputParam",
        "dagTargetMissingInputParam",
        "templates.dag-target.targets failed to resolve {{inputs.parameters.target}}",
    ),
    (
        "TestDependsAndDependencies",
        "dagDependsAndDependencies",
        "templates.dag-target cannot use both 'depends' and 'dependencies' in the same DAG template",
    ),
    (
        "TestDependsAndContinueOn",
        "dagDependsAndContinueOn",
        "templates.dag-target cannot use 'continueOn' when using 'depends'. Instead use 'dep-task.Failed'/'dep-task.Errored'",
    ),
    (
        "TestDAGDependsDigit",
        "dagDependsDigit",
        "templates.diamond.tasks.5A name cannot begin with a digit when using either 'depends' or 'dependencies'",
    ),
    (
        "TestDAGDependenciesDigit",
        "dagDependenciesDigit",
        "templates.diamond.tasks.5A name cannot begin with a digit when using either 'depends' or 'dependencies'",
    ),
    (
        "TestDAGMissingParamValueInTask",
        "dagMissingParamValueInTask",
        "templates.root.tasks.task.arguments.data.valueFrom only allows: default, configMapKeyRef and supplied",
    ),
    (
        "TestFailDAGArgParamValueFromPathInTask",
        "failDagArgParamValueFromPathInTask",
        "valueFrom only allows: default, configMapKeyRef and supplied",
    ),
]


@pytest.mark.parametrize(
    ("go_test", "case", "expected"),
    REFUSED,
    ids=[f"{go_test}-{case}" for go_test, case, _ in REFUSED],
)
def test_refused_as_argo_refuses(
    backend: LocalBackend, go_test: str, case: str, expected: str
) -> None:
    """Each row: the Go test ``go_test`` of validate_test.go / validate_dag_test.go, its
    workflow ``case`` and the text Argo's test requires of the error."""
    manifest = as_workflow(argo_case(case))
    if case == "invalidContainerSetTemplateWithInputArtifacts":
        # Validated by the Go test as a WorkflowTemplate, whose entrypoint gets made-up
        # arguments; a Workflow passes its own.
        manifest["spec"]["arguments"] = {"artifacts": [{"name": "message", "raw": {"data": "m"}}]}
    error = refused(backend, manifest)
    assert expected in error.message, f"{go_test}: {error}"
    assert error.path  # the field at fault


def test_workflow_name_longer_than_63_characters(backend: LocalBackend) -> None:
    """TestMaxLengthName."""
    manifest = workflow_manifest([shell_template("main", "true")])
    manifest["metadata"] = {"name": "a" * 70}
    error = refused(backend, manifest)
    assert error.message == (
        f'workflow name "{"a" * 70}" must not be more than 63 characters long (currently 70)'
    )


def test_templates_beside_a_workflow_template_ref(backend: LocalBackend) -> None:
    """TestValidateFieldsWithWFTRef."""
    apply_templates(backend, "templateRefTarget")
    error = refused(backend, argo_case("invalidWFWithWFTRef"))
    assert error.message == (
        "Templates is invalid field in spec if workflow referred WorkflowTemplate reference"
    )


def test_nested_template_ref_with_an_unsupplied_input(backend: LocalBackend) -> None:
    """TestNestedTemplateRefWithError: the message wraps through every caller."""
    apply_templates(backend, "templateRefTarget", "templateRefTargetWithInput")
    error = refused(backend, argo_case("nestedTemplateRefWithError"))
    assert error.message == (
        "templates.main.steps[1].call-A-input templates.A.steps[0].call-B templates.A "
        "inputs.parameters.message was not supplied"
    )


def test_dag_cycle_names_the_cycle_in_the_hint(backend: LocalBackend) -> None:
    """TestDAGCycle: Argo's sort refuses the cycle; the hint names it as verifyNoCycles
    would, and the path is the DAG's tasks."""
    error = refused(backend, argo_case("dagCycle"))
    assert error.path == "spec.templates[1].dag.tasks"
    assert error.hint == "dependency cycle: C->A->C"


def test_mutual_dependency_is_refused_and_nothing_runs(backend: LocalBackend) -> None:
    """Two tasks depending on each other: Argo refuses the DAG at submission (before, the
    local runner ran it and ended Succeeded having run nothing)."""
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "A", "template": "echo", "dependencies": ["B"]},
                {"name": "B", "template": "echo", "dependencies": ["A"]},
            ]
        },
    }
    error = refused(backend, workflow_manifest([dag, shell_template("echo", "echo hi")]))
    assert error.message == "templates.main sorting failed: graph with cycle"
    assert error.hint == "dependency cycle: B->A->B"


def test_container_set_dependency_cycle(backend: LocalBackend) -> None:
    """TestInvalidContainerSetDependencyCycle (container_set_template_types_test.go)."""
    template = {
        "name": "main",
        "containerSet": {
            "containers": [
                {"name": "a", "image": "argoproj/argosay:v2", "dependencies": ["b"]},
                {"name": "b", "image": "argoproj/argosay:v2", "dependencies": ["a"]},
            ]
        },
    }
    error = refused(backend, workflow_manifest([template]))
    assert error.message == (
        "templates.main.containerSet.containers dependency cycle detected: b->a->b"
    )


def test_container_set_duplicate_names_and_mounts(backend: LocalBackend) -> None:
    """TestInvalidContainerSetDuplicateNames, TestInvalidContainerSetDuplicateVolumeMounting,
    TestInvalidContainerSetEmpty (container_set_template_types_test.go)."""
    mounts = [{"name": "workspace", "mountPath": "/workspace"}]
    image = "argoproj/argosay:v2"
    duplicate = {
        "volumeMounts": mounts,
        "containers": [{"name": "a", "image": image}, {"name": "a", "image": image}],
    }
    error = refused(backend, workflow_manifest([{"name": "main", "containerSet": duplicate}]))
    assert "containers[1].name 'a' is not unique" in error.message
    mounted = {
        "volumeMounts": [*mounts, {"name": "workspace2", "mountPath": "/workspace"}],
        "containers": [{"name": "a", "image": image}],
    }
    error = refused(backend, workflow_manifest([{"name": "main", "containerSet": mounted}]))
    assert (
        "volumeMounts[1].mountPath '/workspace' already mounted in volumeMounts.workspace"
        in error.message
    )
    error = refused(
        backend, workflow_manifest([{"name": "main", "containerSet": {"volumeMounts": mounts}}])
    )
    assert "containers must have at least one container" in error.message


def test_steps_lifecycle_hook_without_expression(backend: LocalBackend) -> None:
    """validateSteps' ``validateHooks``: a step hook other than exit needs an expression."""
    steps = {
        "name": "main",
        "steps": [[{"name": "a", "template": "echo", "hooks": {"running": {"template": "echo"}}}]],
    }
    error = refused(backend, workflow_manifest([steps, shell_template("echo", "echo hi")]))
    assert error.message == "templates.main.steps[0].a.running Expression required"


def test_invalid_retry_policy(backend: LocalBackend) -> None:
    """validateTemplateHolder: the retry policy is one Argo knows."""
    template = shell_template("main", "true", retryStrategy={"retryPolicy": "Sometimes"})
    error = refused(backend, workflow_manifest([template]))
    assert error.message == "Sometimes is not a valid RetryPolicy"
    assert error.path == "spec.templates[0].retryStrategy.retryPolicy"


def test_unknown_depends_result(backend: LocalBackend) -> None:
    """validateDAG's ``ValidateTaskResults``."""
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a", "template": "echo"},
                {"name": "b", "template": "echo", "depends": "a.Finished"},
            ]
        },
    }
    error = refused(backend, workflow_manifest([dag, shell_template("echo", "echo hi")]))
    assert error.message == "templates.main.tasks.b task result 'Finished' for task 'a' is invalid"


def test_unknown_dependency(backend: LocalBackend) -> None:
    """sortDAGTasks: a dependency that is no task of the DAG."""
    dag = {
        "name": "main",
        "dag": {"tasks": [{"name": "a", "template": "echo", "dependencies": ["nope"]}]},
    }
    error = refused(backend, workflow_manifest([dag, shell_template("echo", "echo hi")]))
    assert error.message == "templates.main sorting failed: invalid dependency nope"


def test_item_references_need_a_loop(backend: LocalBackend) -> None:
    """resolveAllVariables: ``{{item.x}}`` outside a loop is refused; a bare ``{{item}}`` is
    not checked by Argo (no ``item.`` prefix) and is accepted."""
    steps = {
        "name": "main",
        "steps": [
            [
                {
                    "name": "a",
                    "template": "echo",
                    "arguments": {"parameters": [{"name": "m", "value": "{{item.x}}"}]},
                }
            ]
        ],
    }
    echo = shell_template("echo", "echo {{inputs.parameters.m}}")
    echo["inputs"] = {"parameters": [{"name": "m"}]}
    error = refused(backend, workflow_manifest([steps, echo]))
    assert error.message == "templates.main.steps failed to resolve {{item.x}}"
    steps["steps"][0][0]["arguments"]["parameters"][0]["value"] = "{{item}}"
    validate_workflow(workflow_manifest([steps, echo]))


def test_steps_output_of_a_later_group_is_refused(backend: LocalBackend) -> None:
    """validateSteps: a step sees the outputs of earlier groups only."""
    steps = {
        "name": "main",
        "steps": [
            [
                {
                    "name": "a",
                    "template": "echo",
                    "arguments": {
                        "parameters": [{"name": "m", "value": "{{steps.b.outputs.result}}"}]
                    },
                }
            ],
            [
                {
                    "name": "b",
                    "template": "echo",
                    "arguments": {"parameters": [{"name": "m", "value": "x"}]},
                }
            ],
        ],
    }
    echo = shell_template("echo", "echo {{inputs.parameters.m}}")
    echo["inputs"] = {"parameters": [{"name": "m"}]}
    error = refused(backend, workflow_manifest([steps, echo]))
    assert error.message == "templates.main.steps failed to resolve {{steps.b.outputs.result}}"
    assert error.path == "spec.templates[0].steps[0][0]"


# ---------------------------------------------------------------------------- accepted

ACCEPTED = [
    ("TestResolveIOArtifactPathPlaceholders", "ioArtifactPaths"),
    ("TestResolveOutputParameterPathPlaceholder", "outputParameterPath"),
    ("TestStepOutputReference", "stepOutputReferences"),
    ("TestStepStatusReference", "stepStatusReferences"),
    ("TestStepArtReference", "stepArtReferences"),
    ("TestParamWithValueFromConfigMapRef", "paramWithValueFromConfigMapRef"),
    ("TestGlobalParam", "globalParam"),
    ("TestGlobalParam", "nestedGlobalParam"),
    ("TestExitHandler", "exitHandlerWorkflowStatusOnExit"),
    ("TestPriorityVariable", "workflowWithPriority"),
    ("TestValidWithItems", "validWithItems"),
    ("TestPodNameVariable", "podNameVariable"),
    ("TestValidResourceWorkflow", "validResourceWorkflow"),
    ("TestAllowPlaceholderInVariableTakenFromInputs", "allowPlaceholderInVariableTakenFromInputs"),
    ("TestRuntimeResolutionOfVariableNames", "runtimeResolutionOfVariableNames"),
    ("TestStepWithItemParam", "stepWithItemParam"),
    ("TestValidMetricGauge", "validMetricGauges"),
    ("TestWorkflowGlobalVariables", "globalVariables"),
    ("TestValidWfImageScriptInTemplateDefault", "validWfImageScriptInTemplateDefault"),
    ("TestValidWfImageContainerInTemplateDefault", "validWfImageContainerInTemplateDefault"),
    ("TestWorkflowTemplateWithResourceManifest", "validWorkflowTemplateWithResourceManifest"),
    ("TestValidActiveDeadlineSecondsArgoVariable", "validActiveDeadlineSecondsArgoVariable"),
    ("TestValidateStartedATVariable", "wf"),
    (
        "TestTemplateReferenceWorkflowConfigMapRefArgument",
        "templateReferenceWorkflowConfigMapRefArgument",
    ),
    ("TestStepsOutputParametersForScript", "stepsOutputParametersForScript"),
    ("TestStepsOutputParametersForContainerSet", "stepsOutputParametersForContainerSet"),
    ("TestResolveAnnotationsAndLabelsJSson", "globalAnnotationsAndLabels"),
    ("TestNodeNameParameterInterpoliates", "nodeNamePlumbsCorrectly"),
    ("TestDynamicStepNameWithInputParameters", "dynamicStepNameWorkflowLocal15896"),
    ("TestParameterizedGlobalArtifactsInExitHandler", "parameterizedGlobalArtifactsWorkflow"),
    ("TestPodResourcesValidation", "podResourcesValid"),
    ("TestPodResourceClaimsValidation", "resourceClaimsValid"),
    # validate_dag_test.go
    ("TestDAGVariableResolution", "dagResolvedVar"),
    ("TestDAGVariableResolution", "dagResolvedGlobalVar"),
    ("TestDAGVariableResolution", "dagResolvedGlobalVarReversed"),
    ("TestDAGArtifactResolution", "dagResolvedArt"),
    ("TestDAGStatusReference", "dagStatusReference"),
    ("TestDAGStatusReference", "dagStatusPastReferenceChain"),
    ("TestDAGTargetSubstitution", "dagTargetSubstitution"),
    ("TestDAGWithDigitNameNoDepends", "dagWithDigitNoDepends"),
    ("TestDAGOutputsResolveTaskAggregatedOutputs", "dagOutputsResolveTaskAggregatedOutputs"),
    ("TestDAGArgParamValueFromConfigMapInTask", "dagArgParamValueFromConfigMapInTask"),
]


@pytest.mark.parametrize(
    ("go_test", "case"), ACCEPTED, ids=[f"{go_test}-{case}" for go_test, case in ACCEPTED]
)
def test_accepted_as_argo_accepts(go_test: str, case: str) -> None:
    """Each row: a workflow the Go test ``go_test`` requires Argo to accept. (The Argo checks
    alone: some use what the local runner cannot run, such as ``resource`` templates.)"""
    try:
        validate_argo_workflow(argo_case(case))
    except Invalid as error:
        pytest.fail(f"{go_test}: {error.message}")


@pytest.mark.parametrize(
    ("go_test", "templates", "case"),
    [
        (
            "TestNestedTemplateRef",
            ("templateRefTarget", "templateRefNestedTarget"),
            "nestedTemplateRef",
        ),
        (
            "TestDynamicWorkflowTemplateRef",
            ("dynamicWorkflowTemplateARefB", "dynamicWorkflowTemplateRefB"),
            "dynamicTemplateRefWorkflow",
        ),
        (
            "TestInlineTemplateNotContaminatedByPlaceholders",
            ("inlineWorkflowTemplate14329",),
            "inlineWorkflow14329",
        ),
        (
            "TestDynamicStepNameWithInputParameters",
            ("dynamicStepNameWorkflowTemplate15896",),
            "dynamicStepNameWorkflow15896",
        ),
        (
            "TestDagWithItemTemplateRefTmpl",
            ("dagWithItemTemplateRefTmpl",),
            "dagWithItemTemplateRefWf",
        ),
    ],
)
def test_template_refs_accepted(
    backend: LocalBackend, go_test: str, templates: tuple[str, ...], case: str
) -> None:
    """Workflows calling WorkflowTemplates' templates, which the Go test requires Argo to
    accept once the WorkflowTemplates exist."""
    apply_templates(backend, *templates)
    try:
        validate_argo_workflow(argo_case(case), backend.store.lookup_template)
    except Invalid as error:
        pytest.fail(f"{go_test}: {error.message}")


def test_dag_tasks_sort_after_what_they_depend_on() -> None:
    """TestSortDAGTasksWithDepends."""
    tasks = argo_case("wfUsingDependsManifest")["spec"]["templates"][0]["dag"]["tasks"]
    graph = DagGraph(tasks)
    order = [t["name"] for t in graph.sorted_tasks(list(reversed(tasks)))]
    assert order == ["8ea51cf2", "ba1f414f", "f7d273f8"]


WORKFLOW_TEMPLATE_REFS = [
    ("TestWorkflowWithWFTRefWithEntrypoint", "templateWithEntrypoint", "wfWithWFTRefNoEntrypoint"),
    ("TestWorkflowWithWFTRef", "templateRefTarget", "wfWithWFTRef"),
    (
        "TestValidateFieldsWithWFTRefScriptImageInDefault",
        "templateRefScriptImageDefaultTarget",
        "wfWithWFTRefScriptImageInDefault",
    ),
    (
        "TestValidateFieldsWithWFTRefContainerImageInDefault",
        "templateRefContainerImageDefaultTarget",
        "wfWithWFTRefContainerImageInDefault",
    ),
    (
        "TestWorkflowWithWFTRefWithOverrideParam",
        "templateRefWithParam",
        "wfWithWFTRefOverrideParam",
    ),
    (
        "TestWorkflowWithWFTRefWithOutOwnArtifactArgument",
        "templateRefWithArtifactArgument",
        "wfWithWFTRefAndNoOwnArtifact",
    ),
    (
        "TestWorkflowWithWFTRefWithArtifactArgument",
        "templateRefWithArtifactArgument",
        "wfWithWFTRefAndOwnArtifactArgument",
    ),
    (
        "TestParameterizedGlobalArtifactsWithWorkflowTemplateRef",
        "parameterizedArtifactsWorkflowTemplate",
        "parameterizedGlobalArtifactsWithWorkflowTemplateRef",
    ),
]


@pytest.mark.parametrize(("go_test", "template", "case"), WORKFLOW_TEMPLATE_REFS)
def test_workflow_template_refs_accepted(
    backend: LocalBackend, go_test: str, template: str, case: str
) -> None:
    """Workflows made of a WorkflowTemplate (``workflowTemplateRef``), which the Go test
    requires Argo to accept: they run (how they end does not matter here)."""
    apply_templates(backend, template)
    done = backend.run(argo_case(case))
    assert done["status"]["phase"] in ("Succeeded", "Failed", "Error"), go_test


def test_collision_is_gone_with_another_mount_path() -> None:
    """TestVolumeMountArtifactPathCollision, second half."""
    manifest = argo_case("volumeMountArtifactPathCollision")
    manifest["spec"]["templates"][0]["container"]["volumeMounts"][0]["mountPath"] = "/elsewhere"
    validate_argo_workflow(manifest)


def test_lint_only_cases_are_refused_on_submit(backend: LocalBackend) -> None:
    """TestSpecArgumentSnakeCase and TestCustomTemplateVariable validate with ``Lint``; a
    submission is stricter only about argument values, so both pass as submitted too."""
    validate_argo_workflow(argo_case("specArgumentSnakeCase"))
    validate_argo_workflow(argo_case("customVariableInput"))


# ---------------------------------------------------------------------------- Argo's examples

EXAMPLES = sorted(
    [
        *(Path(__file__).parents[1] / "argo_reference" / "examples").glob("*.yaml"),
        *(Path(__file__).parent / "data" / "argo-examples").glob("*.yaml"),
    ]
)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_argo_examples_pass_argo_validation(backend: LocalBackend, path: Path) -> None:
    """Argo accepts all of its examples: so must the port (the examples' WorkflowTemplates
    are applied first)."""
    for example in EXAMPLES:
        for document in yaml.safe_load_all(example.read_text()):
            if (document or {}).get("kind") in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
                backend.apply(document)
    for document in [d for d in yaml.safe_load_all(path.read_text()) if d]:
        if document.get("kind", "Workflow") == "Workflow":
            validate_argo_workflow(document, backend.store.lookup_template)


# ---------------------------------------------------------------------------- scale


def test_a_wide_dag_validates_in_linear_time() -> None:
    """Validation runs on every submit: 5,000 tasks in 250 layers of 20, each task depending
    on the whole layer before it (100,000 edges) and reading its outputs, is checked without
    walking each task's ancestry."""
    layers, width = 250, 20
    tasks = []
    for layer in range(layers):
        for index in range(width):
            task: dict[str, Any] = {
                "name": f"t{layer}-{index}",
                "template": "work",
                "arguments": {"parameters": [{"name": "m", "value": "x"}]},
            }
            if layer:
                task["dependencies"] = [f"t{layer - 1}-{i}" for i in range(width)]
                previous = f"t{layer - 1}-{index}"
                task["arguments"]["parameters"][0]["value"] = (
                    f"{{{{tasks.{previous}.outputs.result}}}}"
                )
                task["when"] = f"{{{{tasks.{previous}.status}}}} == Succeeded"
            tasks.append(task)
    work = shell_template("work", "echo {{inputs.parameters.m}}")
    work["inputs"] = {"parameters": [{"name": "m"}]}
    manifest = workflow_manifest([{"name": "main", "dag": {"tasks": tasks}}, work])
    start = time.perf_counter()
    validate_workflow(manifest)
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(
    ("where", "shape"),
    [
        ("spec.arguments.parameters", "expected list, got dict"),
        ("spec.templates[0].steps", "expected list, got str"),
        ("spec.templates[0].steps[0][0]", "expected map, got str"),
        ("spec.templates[0].inputs.parameters[0]", "expected map, got int"),
        ("spec.templates[1].container.env", "expected list, got dict"),
    ],
)
def test_a_field_of_the_wrong_shape_is_refused_naming_it(where: str, shape: str) -> None:
    """Go's decoding refuses a map where a list belongs (and so on); refused here as a
    SpecError naming the field, never a crash further on."""
    manifest = workflow_manifest(
        [
            {"name": "main", "steps": [[{"name": "a", "template": "a"}]]},
            shell_template("a", "echo a"),
        ]
    )
    broken = {
        "spec.arguments.parameters": lambda s: s.update(arguments={"parameters": {"x": 1}}),
        "spec.templates[0].steps": lambda s: s["templates"][0].update(steps="a"),
        "spec.templates[0].steps[0][0]": lambda s: s["templates"][0].update(steps=[["a"]]),
        "spec.templates[0].inputs.parameters[0]": lambda s: s["templates"][0].update(
            inputs={"parameters": [1]}
        ),
        "spec.templates[1].container.env": lambda s: s["templates"][1]["container"].update(
            env={"A": "1"}
        ),
    }
    broken[where](manifest["spec"])
    with pytest.raises(SpecError) as refused:
        validate_workflow(manifest)
    assert (refused.value.path, refused.value.message) == (where, shape)
