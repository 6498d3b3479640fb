"""Outputs of Skipped and Omitted nodes on the local runner, as Argo v4.1 resolves them
(docs/variables.md "Outputs of Skipped and Omitted Nodes"; argoproj/argo-workflows #16223).

A Skipped (``when`` false) or Omitted (``depends`` not met) task or step produced nothing, so
``addSkippedNodeOutputsToScope`` (workflow/controller/scope.go) gives each output parameter its
template declares the producer's ``valueFrom.default``, or else an absent optional (nil). An
argument that is exactly one reference to an absent optional is marked before substitution
(``markAbsentOptionalArgs``) and ``ProcessArgs`` (workflow/common/util.go) takes it as not
supplied, so the consumer's input default applies or the consumer fails; any other simple tag
naming one fails substitution (``simpleReplaceStrict``, util/template/simple_template.go); an
expression sees nil (``??``). A DAG task that fails there is a Skipped node in Error
(``resolveDependencyReferences``, ``executeDAGTask``, ``initializeNodeOrMarkError``), a step
group errors (``resolveReferences``, ``executeStepGroup``), and a DAG's or steps' outputs take
``valueFrom.default`` (``getTemplateOutputsFromScope``).

The first tests are Argo's e2e tests in test/e2e/functional_test.go (TestDAGOmittedOutputRef,
TestDAGSkippedOutputRef, TestDAGSkippedProducerOutputDefault, TestDAGSkippedConsumerInputDefault,
TestDAGSkippedVolumeRefProducerDefault, TestDAGSkippedArtifactSubPathRef,
TestDAGSkippedWithParamProducerDefault, TestStepsSkippedWithParamRef, TestStepsSkippedOutputRef,
TestStepsSkippedProducerOutputDefault, TestStepsSkippedConsumerInputDefault), each with its
workflow from test/e2e/functional/*.yaml and the Go test's assertions; where Argo's source fixes
a node's type or message, that is asserted too. The last ones are focused cases of the rules
(from Argo's unit tests in dag_test.go and steps_test.go where there is one).
"""

from __future__ import annotations

from typing import Any

from engine.backends.local import LocalBackend
from tests.local.argo_e2e import e2e_workflow, node_by_display

Manifest = dict[str, Any]
NO_DEFAULT = "(skipped/omitted node output with no default)"
ABSENT_TAG = "output is an absent optional (skipped/omitted node with no default)"


def _params(node: dict[str, Any]) -> list[dict[str, Any]]:
    return list((node.get("inputs") or {}).get("parameters") or [])


def _errored(workflow: Manifest) -> list[dict[str, Any]]:
    return [n for n in workflow["status"]["nodes"].values() if n["phase"] == "Error"]


# ------------------------------------------------------------------ Argo's e2e tests: DAGs

STAGES = """
    - name: stage-a
      outputs:
        parameters:
          - name: output-message
            valueFrom:
              path: /tmp/output.txt
      container:
        image: argoproj/argosay:v2
        args: ["echo", "hello from stage A", "/tmp/output.txt"]
    - name: stage-b
      outputs:
        parameters:
          - name: output-message
            valueFrom:
              path: /tmp/output.txt
      container:
        image: argoproj/argosay:v2
        args: ["echo", "hello from stage B", "/tmp/output.txt"]
    - name: stage-c
      inputs:
        parameters:
          - name: message-from-a
          - name: message-from-b
      container:
        image: argoproj/argosay:v2
        args: ["echo", "stage-c received: [{{inputs.parameters.message-from-a}}] and [{{inputs.parameters.message-from-b}}]"]
"""

DAG_OMITTED_OUTPUT_REF = (
    """
metadata:
  generateName: dag-omitted-output-ref-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: stage-a
            template: stage-a
          - name: stage-b
            template: stage-b
            depends: "stage-a.Failed"
          - name: stage-c
            template: stage-c
            depends: "stage-a && (stage-b || stage-b.Omitted)"
            arguments:
              parameters:
                - name: message-from-a
                  value: "{{tasks.stage-a.outputs.parameters.output-message}}"
                - name: message-from-b
                  value: "{{tasks.stage-b.outputs.parameters.output-message}}"
"""
    + STAGES
)


def _assert_stage_c_errored(wf: Manifest) -> None:
    """stage-c: ProcessArgs refuses the absent argument, executeDAGTask wraps the error."""
    node_c = node_by_display(wf, "stage-c")
    assert node_c["phase"] == "Error"
    assert "absent optional" in node_c.get("message", "")
    assert node_c["type"] == "Skipped"
    assert node_c["message"] == (
        f"task '{node_c['name']}' errored: inputs.parameters.message-from-b: argument "
        f"references an absent optional {NO_DEFAULT}"
    )


def test_dag_omitted_output_ref(backend: LocalBackend) -> None:
    """TestDAGOmittedOutputRef: an Omitted task's output with no default anywhere fails the
    consumer terminally."""
    wf = backend.run(e2e_workflow(DAG_OMITTED_OUTPUT_REF))
    assert wf["status"]["phase"] == "Error"
    assert node_by_display(wf, "stage-a")["phase"] == "Succeeded"
    assert node_by_display(wf, "stage-b")["phase"] == "Omitted"
    _assert_stage_c_errored(wf)


DAG_SKIPPED_OUTPUT_REF = (
    """
metadata:
  generateName: dag-skipped-output-ref-
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: run-stage-b
        value: "false"
  templates:
    - name: main
      inputs:
        parameters:
          - name: run-stage-b
      dag:
        tasks:
          - name: stage-a
            template: stage-a
          - name: stage-b
            template: stage-b
            when: "\\"{{inputs.parameters.run-stage-b}}\\" == \\"true\\""
          - name: stage-c
            template: stage-c
            depends: "stage-a && (stage-b || stage-b.Skipped)"
            arguments:
              parameters:
                - name: message-from-a
                  value: "{{tasks.stage-a.outputs.parameters.output-message}}"
                - name: message-from-b
                  value: "{{tasks.stage-b.outputs.parameters.output-message}}"
"""
    + STAGES
)


def test_dag_skipped_output_ref(backend: LocalBackend) -> None:
    """TestDAGSkippedOutputRef: the same for a Skipped task."""
    wf = backend.run(e2e_workflow(DAG_SKIPPED_OUTPUT_REF))
    assert wf["status"]["phase"] == "Error"
    assert node_by_display(wf, "stage-a")["phase"] == "Succeeded"
    assert node_by_display(wf, "stage-b")["phase"] == "Skipped"
    _assert_stage_c_errored(wf)


def _dag_producer_consumer(name: str, produce_default: str, consume_default: str) -> Manifest:
    """test/e2e/functional/dag-skipped-{producer,consumer}-default.yaml."""
    return e2e_workflow(
        f"""
metadata:
  generateName: {name}-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: producer
            template: produce
            when: "false"
          - name: consumer
            template: consume
            depends: "producer.Succeeded || producer.Skipped"
            arguments:
              parameters:
                - name: in
                  value: "{{{{tasks.producer.outputs.parameters.msg}}}}"
    - name: produce
      outputs:
        parameters:
          - name: msg
            valueFrom:
              path: /tmp/out.txt{produce_default}
      container:
        image: argoproj/argosay:v2
        args: ["echo", "real-value", "/tmp/out.txt"]
    - name: consume
      inputs:
        parameters:
          - name: in{consume_default}
      container:
        image: argoproj/argosay:v2
        args: ["echo", "consumer got: [{{{{inputs.parameters.in}}}}]"]
"""
    )


def _assert_consumer_got(wf: Manifest, value: str) -> None:
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert node_by_display(wf, "producer")["phase"] == "Skipped"
    consumer = node_by_display(wf, "consumer")
    assert consumer["phase"] == "Succeeded"
    assert len(_params(consumer)) == 1
    assert _params(consumer)[0]["value"] == value


def test_dag_skipped_producer_output_default(backend: LocalBackend) -> None:
    """TestDAGSkippedProducerOutputDefault: the producer's valueFrom.default is the value."""
    manifest = _dag_producer_consumer(
        "dag-skipped-producer-default",
        '\n              default: "hello-from-producer"',
        "",
    )
    _assert_consumer_got(backend.run(manifest), "hello-from-producer")


def test_dag_skipped_consumer_input_default(backend: LocalBackend) -> None:
    """TestDAGSkippedConsumerInputDefault: the argument is dropped, the input default applies."""
    manifest = _dag_producer_consumer(
        "dag-skipped-consumer-default",
        "",
        '\n            default: "fallback-from-input"',
    )
    _assert_consumer_got(backend.run(manifest), "fallback-from-input")


DAG_SKIPPED_VOLUME_DEFAULT = """
metadata:
  generateName: dag-skipped-volume-default-
spec:
  entrypoint: main
  volumes:
    - name: cfg
      configMap:
        name: "{{tasks.producer.outputs.parameters.cm-name}}"
        optional: true
  templates:
    - name: main
      dag:
        tasks:
          - name: producer
            template: produce
            when: "false"
          - name: consumer
            template: consume
            depends: "producer.Succeeded || producer.Skipped"
    - name: produce
      outputs:
        parameters:
          - name: cm-name
            valueFrom:
              path: /tmp/out.txt
              default: "rescued-config"
      container:
        image: argoproj/argosay:v2
        args: ["echo", "real-config", "/tmp/out.txt"]
    - name: consume
      container:
        image: argoproj/argosay:v2
        args: ["assert_contains", "/cfg/origin", "rescued"]   # Argo: ["echo", "hello"]
        volumeMounts:
          - name: cfg
            mountPath: /cfg
"""


def test_dag_skipped_volume_ref_producer_default(backend: LocalBackend) -> None:
    """TestDAGSkippedVolumeRefProducerDefault: spec.volumes get the producer's default.

    On Kubernetes a volume still named ``{{...}}`` is invalid, so the pod would not be created;
    here an optional ConfigMap that is not found is merely an empty directory. So the rescued
    ConfigMap exists and the consumer checks it got it (Argo's consumer only echoes)."""
    backend.apply(
        {"kind": "ConfigMap", "metadata": {"name": "rescued-config"}, "data": {"origin": "rescued"}}
    )
    wf = backend.run(e2e_workflow(DAG_SKIPPED_VOLUME_DEFAULT))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert node_by_display(wf, "producer")["phase"] == "Skipped"
    assert node_by_display(wf, "consumer")["phase"] == "Succeeded"


DAG_SKIPPED_ARTIFACT_SUBPATH_REF = """
metadata:
  generateName: dag-skipped-artifact-subpath-ref-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: artifact-producer
            template: produce-artifact
          - name: param-producer
            template: produce-param
            when: "false"
          - name: consumer
            template: consume
            depends: "artifact-producer && (param-producer.Succeeded || param-producer.Skipped)"
            arguments:
              artifacts:
                - name: data
                  from: "{{tasks.artifact-producer.outputs.artifacts.out}}"
                  subPath: "{{tasks.param-producer.outputs.parameters.dir}}"
    - name: produce-artifact
      outputs:
        artifacts:
          - name: out
            path: /tmp/message
      container:
        image: argoproj/argosay:v2
        args: ["echo", "hello", "/tmp/message"]
    - name: produce-param
      outputs:
        parameters:
          - name: dir
            valueFrom:
              path: /tmp/dir.txt
      container:
        image: argoproj/argosay:v2
        args: ["echo", "subdir", "/tmp/dir.txt"]
    - name: consume
      inputs:
        artifacts:
          - name: data
            path: /tmp/in
      container:
        image: argoproj/argosay:v2
        args: ["echo", "consumed"]
"""


def test_dag_skipped_artifact_sub_path_ref(backend: LocalBackend) -> None:
    """TestDAGSkippedArtifactSubPathRef: an absent optional in an artifact's subPath fails the
    task's references (a Skipped node in Error), not an empty subPath."""
    wf = backend.run(e2e_workflow(DAG_SKIPPED_ARTIFACT_SUBPATH_REF))
    assert wf["status"]["phase"] == "Error"
    assert node_by_display(wf, "param-producer")["phase"] == "Skipped"
    consumer = node_by_display(wf, "consumer")
    assert consumer["phase"] == "Error"
    assert "absent optional" in consumer.get("message", "")
    assert consumer["type"] == "Skipped"
    assert consumer["message"] == (
        f"unable to substitute {{{{tasks.param-producer.outputs.parameters.dir}}}}: {ABSENT_TAG}"
    )


DAG_SKIPPED_WITHPARAM_DEFAULT = """
metadata:
  generateName: dag-skipped-withparam-default-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: producer
            template: produce
            when: "false"
          - name: consumer
            template: consume
            depends: "producer.Succeeded || producer.Skipped"
            withParam: "{{tasks.producer.outputs.parameters.items}}"
            arguments:
              parameters:
                - name: in
                  value: "{{item}}"
    - name: produce
      outputs:
        parameters:
          - name: items
            valueFrom:
              path: /tmp/out.txt
              default: '["a","b"]'
      container:
        image: argoproj/argosay:v2
        args: ["echo", '["real"]', "/tmp/out.txt"]
    - name: consume
      inputs:
        parameters:
          - name: in
      container:
        image: argoproj/argosay:v2
        args: ["echo", "consumer got: [{{inputs.parameters.in}}]"]
"""


def test_dag_skipped_with_param_producer_default(backend: LocalBackend) -> None:
    """TestDAGSkippedWithParamProducerDefault: withParam expands the producer's default."""
    wf = backend.run(e2e_workflow(DAG_SKIPPED_WITHPARAM_DEFAULT))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert node_by_display(wf, "producer")["phase"] == "Skipped"
    for i, item in enumerate(["a", "b"]):
        child = node_by_display(wf, f"consumer({i}:{item})")
        assert child["phase"] == "Succeeded"
        assert len(_params(child)) == 1
        assert _params(child)[0]["value"] == item


# ------------------------------------------------------------------ Argo's e2e tests: steps

STEPS_SKIPPED_WITHPARAM_REF = """
metadata:
  generateName: steps-skipped-withparam-ref-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: producer
            template: produce
            when: "false"
        - - name: consumer
            template: consume
            withParam: "{{steps.producer.outputs.parameters.items}}"
            arguments:
              parameters:
                - name: in
                  value: "{{item}}"
    - name: produce
      outputs:
        parameters:
          - name: items
            valueFrom:
              path: /tmp/out.txt
      container:
        image: argoproj/argosay:v2
        args: ["echo", '["real"]', "/tmp/out.txt"]
    - name: consume
      inputs:
        parameters:
          - name: in
      container:
        image: argoproj/argosay:v2
        args: ["echo", "consumer got: [{{inputs.parameters.in}}]"]
"""


def _assert_step_group_errored(wf: Manifest, tag: str) -> None:
    """The one node in Error is the step group whose references failed (Go's test takes the
    first node in Error it finds; Argo has exactly this one)."""
    errored = _errored(wf)
    assert errored, "a node should fail terminally on the absent optional"
    assert "absent optional" in errored[0].get("message", "")
    assert [n["type"] for n in errored] == ["StepGroup"]
    expected = f"failed to resolve references: unable to substitute {tag}: {ABSENT_TAG}"
    assert errored[0]["message"] == expected
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert (root["phase"], root["message"]) == ("Failed", expected)


def test_steps_skipped_with_param_ref(backend: LocalBackend) -> None:
    """TestStepsSkippedWithParamRef: a withParam from a Skipped step's defaultless output
    errors the step group (rolled up to the steps node as Failed)."""
    wf = backend.run(e2e_workflow(STEPS_SKIPPED_WITHPARAM_REF))
    assert wf["status"]["phase"] == "Failed", wf["status"].get("message")
    assert node_by_display(wf, "producer")["phase"] == "Skipped"
    _assert_step_group_errored(wf, "{{steps.producer.outputs.parameters.items}}")


STEPS_SKIPPED_OUTPUT_REF = """
metadata:
  generateName: steps-skipped-output-ref-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: job1
            template: run-job
        - - name: job2
            template: run-job
            when: "\\"{{steps.job1.outputs.parameters.status}}\\" == \\"FAILED\\""
        - - name: job2-error-handler
            template: run-job
            when: "\\"{{steps.job2.outputs.parameters.status}}\\" != \\"SUCCESS\\" && \\"{{steps.job1.outputs.parameters.status}}\\" == \\"SUCCESS\\""
    - name: run-job
      outputs:
        parameters:
          - name: status
            valueFrom:
              path: /tmp/status.txt
      container:
        image: argoproj/argosay:v2
        args: ["echo", "SUCCESS", "/tmp/status.txt"]
"""


def test_steps_skipped_output_ref(backend: LocalBackend) -> None:
    """TestStepsSkippedOutputRef: a ``when`` naming a Skipped step's defaultless output errors
    the step group, instead of comparing the tag's own text."""
    wf = backend.run(e2e_workflow(STEPS_SKIPPED_OUTPUT_REF))
    assert wf["status"]["phase"] == "Failed", wf["status"].get("message")
    assert node_by_display(wf, "job1")["phase"] == "Succeeded"
    assert node_by_display(wf, "job2")["phase"] == "Skipped"
    _assert_step_group_errored(wf, "{{steps.job2.outputs.parameters.status}}")


def _steps_producer_consumer(name: str, produce_default: str, consume_default: str) -> Manifest:
    """test/e2e/functional/steps-skipped-{producer,consumer}-default.yaml."""
    return e2e_workflow(
        f"""
metadata:
  generateName: {name}-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: producer
            template: produce
            when: "false"
        - - name: consumer
            template: consume
            arguments:
              parameters:
                - name: in
                  value: "{{{{steps.producer.outputs.parameters.msg}}}}"
    - name: produce
      outputs:
        parameters:
          - name: msg
            valueFrom:
              path: /tmp/out.txt{produce_default}
      container:
        image: argoproj/argosay:v2
        args: ["echo", "real-value", "/tmp/out.txt"]
    - name: consume
      inputs:
        parameters:
          - name: in{consume_default}
      container:
        image: argoproj/argosay:v2
        args: ["echo", "consumer got: [{{{{inputs.parameters.in}}}}]"]
"""
    )


def test_steps_skipped_producer_output_default(backend: LocalBackend) -> None:
    """TestStepsSkippedProducerOutputDefault."""
    manifest = _steps_producer_consumer(
        "steps-skipped-producer-default",
        '\n              default: "hello-from-producer"',
        "",
    )
    _assert_consumer_got(backend.run(manifest), "hello-from-producer")


def test_steps_skipped_consumer_input_default(backend: LocalBackend) -> None:
    """TestStepsSkippedConsumerInputDefault."""
    manifest = _steps_producer_consumer(
        "steps-skipped-consumer-default",
        "",
        '\n            default: "fallback-from-input"',
    )
    _assert_consumer_got(backend.run(manifest), "fallback-from-input")


# ------------------------------------------------------------------ focused cases


def _dag_with_consumer_value(value: str, extra_task: str = "") -> Manifest:
    """A skipped producer with a defaultless output and a consumer whose argument is ``value``
    (dag_test.go's dagSkippedInlineExpressionFallback)."""
    return e2e_workflow(
        f"""
metadata:
  generateName: dag-skipped-ref-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: producer
            template: produce
            when: "false"
          - name: consumer
            template: consume
            depends: "producer.Succeeded || producer.Skipped"
            arguments:
              parameters:
                - name: in
                  value: "{value}"{extra_task}
    - name: produce
      outputs:
        parameters:
          - name: msg
            valueFrom:
              path: /tmp/out.txt
      container:
        image: argoproj/argosay:v2
        args: ["echo", "real-value", "/tmp/out.txt"]
    - name: consume
      inputs:
        parameters:
          - name: in
      container:
        image: argoproj/argosay:v2
        args: ["echo", "consumer got: [{{{{inputs.parameters.in}}}}]"]
"""
    )


WHEN_FALSE_CONSUMER = '''
          - name: never
            template: consume
            depends: producer
            when: "{{tasks.producer.status}} == Succeeded"
            arguments:
              parameters:
                - name: in
                  value: "x-{{tasks.producer.outputs.parameters.msg}}-y"'''


def test_an_expression_sees_nil_so_the_fallback_applies(backend: LocalBackend) -> None:
    """TestDAGSkippedInlineExpressionFallback: ``??`` picks the fallback for an absent output;
    and a task whose own ``when`` is false leaves its absent references unresolved (docs:
    "The exception is a step or task whose own when evaluates to false")."""
    value = "{{= tasks.producer.outputs.parameters.msg ?? 'inline-fallback'}}"
    wf = backend.run(_dag_with_consumer_value(value, WHEN_FALSE_CONSUMER))
    _assert_consumer_got(wf, "inline-fallback")
    never = node_by_display(wf, "never")
    assert (never["type"], never["phase"]) == ("Skipped", "Skipped")


def test_a_composite_value_naming_an_absent_output_fails(backend: LocalBackend) -> None:
    """Only a value that is exactly the reference is dropped (TestAbsentOptionalRefRequiresTag);
    ``x-{{ref}}-y`` fails substitution: the task is a Skipped node in Error."""
    wf = backend.run(_dag_with_consumer_value("x-{{tasks.producer.outputs.parameters.msg}}-y"))
    assert wf["status"]["phase"] == "Error"
    consumer = node_by_display(wf, "consumer")
    assert (consumer["type"], consumer["phase"]) == ("Skipped", "Error")
    tag = "{{tasks.producer.outputs.parameters.msg}}"
    assert consumer["message"] == f"unable to substitute {tag}: {ABSENT_TAG}"


def test_a_bare_expression_of_an_absent_output_fails(backend: LocalBackend) -> None:
    """``{{= ref}}`` yields nil, which no parameter can take: ``expressionReplaceCore``'s
    terminal error, with the expression as written after ``=``."""
    wf = backend.run(_dag_with_consumer_value("{{= tasks.producer.outputs.parameters.msg}}"))
    assert wf["status"]["phase"] == "Error"
    consumer = node_by_display(wf, "consumer")
    assert (consumer["type"], consumer["phase"]) == ("Skipped", "Error")
    expected = 'failed to evaluate expression " tasks.producer.outputs.parameters.msg"'
    assert consumer["message"] == expected


def test_a_step_without_an_input_default_errors_its_step_group(backend: LocalBackend) -> None:
    """An absent argument to an input with no default: ``ProcessArgs`` fails the step (a
    Skipped node in Error) and ``executeStepGroup`` errors the group with it; the steps node
    fails with the group's message."""
    wf = backend.run(_steps_producer_consumer("steps-skipped-no-default", "", ""))
    assert wf["status"]["phase"] == "Failed"
    consumer = node_by_display(wf, "consumer")
    refused = f"inputs.parameters.in: argument references an absent optional {NO_DEFAULT}"
    assert (consumer["type"], consumer["phase"], consumer["message"]) == (
        "Skipped",
        "Error",
        refused,
    )
    group = node_by_display(wf, "[1]")
    message = f"step group deemed errored due to child {consumer['name']} error: {refused}"
    assert (group["type"], group["phase"], group["message"]) == ("StepGroup", "Error", message)
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert (root["phase"], root["message"]) == ("Failed", message)


def test_a_dag_output_takes_the_producer_default_first(backend: LocalBackend) -> None:
    """TestDAGSkippedOutputDefaultAggregate: the skipped producer's default is a real value,
    so the aggregating output's own default does not apply; without a producer default the
    aggregating default does, and with neither the DAG errors."""
    template = """
metadata:
  generateName: dag-skipped-output-default-aggregate-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: producer
        template: produce
        when: "false"
    outputs:
      parameters:
      - name: result
        valueFrom:
          parameter: "{{tasks.producer.outputs.parameters.msg}}"%s
  - name: produce
    outputs:
      parameters:
      - name: msg
        valueFrom:
          path: /tmp/out.txt%s
    container:
      image: argoproj/argosay:v2
"""
    aggregator = '\n          default: "default-from-aggregator"'
    producer = '\n          default: "default-from-producer"'
    cases = [(aggregator, producer), (aggregator, ""), ("", "")]
    outcomes = []
    for aggregating, producing in cases:
        wf = backend.run(e2e_workflow(template % (aggregating, producing)))
        root = wf["status"]["nodes"][wf["metadata"]["name"]]
        outputs = (root.get("outputs") or {}).get("parameters") or []
        outcomes.append((root["phase"], [p["value"] for p in outputs], root.get("message")))
    assert outcomes == [
        ("Succeeded", ["default-from-producer"], None),
        ("Succeeded", ["default-from-aggregator"], None),
        (
            "Error",
            [],
            'output parameter "result": "{{tasks.producer.outputs.parameters.msg}}" '
            f"is an absent optional {NO_DEFAULT}",
        ),
    ]
