"""Argo's ``test/e2e/functional_test.go`` (first part, TestArchiveStrategies ..
TestParameterAggregationDAGWithRetry), run on the local runner with the Go tests' assertions.

Each workflow is copied from the Go test or from its ``test/e2e/...`` yaml file (Argo v4.1.2).
Changes, where made, are stated in the test: ``cowsay`` (not on this host) → ``echo``. The
tests of outputs of skipped and omitted nodes (TestDAGSkipped*, TestStepsSkipped*,
TestDAGOmittedOutputRef) are in ``tests/local/test_skipped_outputs.py``.
"""

from __future__ import annotations

from typing import Any

from engine.backends.local import LocalBackend
from tests.local.argo_e2e import e2e_workflow, find_display, node_by_display
from tests.local.conftest import stdout_of

Manifest = dict[str, Any]


def params(node: dict[str, Any]) -> list[dict[str, Any]]:
    return list((node.get("inputs") or {}).get("parameters") or [])


# ----------------------------------------------------------------------------- workflows

ARCHIVE_STRATEGIES = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: archive-strategies-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: generate-default
            template: generate-default
          - name: consume-default
            template: consume-default
            dependencies: [generate-default]
            arguments:
              artifacts:
                - name: file-default
                  from: "{{tasks.generate-default.outputs.artifacts.file-default}}"
          - name: generate-tar
            template: generate-tar
          - name: consume-tar
            template: consume-tar
            dependencies: [generate-tar]
            arguments:
              artifacts:
                - name: file-tar
                  from: "{{tasks.generate-tar.outputs.artifacts.file-tar}}"
          - name: generate-none
            template: generate-none
          - name: consume-none
            template: consume-none
            dependencies: [generate-none]
            arguments:
              artifacts:
                - name: file-none
                  from: "{{tasks.generate-none.outputs.artifacts.file-none}}"
    - name: generate-default
      container:
        image: argoproj/argosay:v2
        args: [echo, hello, /tmp/file-default]
      outputs:
        artifacts:
          - name: file-default
            path: /tmp/file-default
    - name: consume-default
      inputs:
        artifacts:
          - name: file-default
            path: /tmp/file-default
      container:
        image: argoproj/argosay:v2
        args: [assert_contains, /tmp/file-default, hello]
    - name: generate-tar
      container:
        image: argoproj/argosay:v2
        args: [echo, hello, /tmp/file-tar]
      outputs:
        artifacts:
          - name: file-tar
            path: /tmp/file-tar
            archive:
              tar: {}
    - name: consume-tar
      inputs:
        artifacts:
          - name: file-tar
            path: /tmp/file-tar
            archive:
              tar: {}
      container:
        image: argoproj/argosay:v2
        args: [assert_contains, /tmp/file-tar, hello]
    - name: generate-none
      container:
        image: argoproj/argosay:v2
        args: [echo, hello, /tmp/file-none]
      outputs:
        artifacts:
          - name: file-none
            path: /tmp/file-none
            archive:
              none: {}
    - name: consume-none
      inputs:
        artifacts:
          - name: file-none
            path: /tmp/file-none
            archive:
              none: {}
      container:
        image: argoproj/argosay:v2
        args: [assert_contains, /tmp/file-none, hello]
"""


def test_archive_strategies(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestArchiveStrategies"""
    wf = backend.run(e2e_workflow(ARCHIVE_STRATEGIES))
    assert wf["status"]["phase"] == "Succeeded"


RETRY_ON_ERROR = """
kind: Workflow
apiVersion: argoproj.io/v1alpha1
metadata:
  generateName: retry-on-error-
spec:
  retryStrategy:
    retryPolicy: OnError
    limit: 1
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        args:
          - exit
          - "1"
"""


def test_workflow_level_error_retry_policy(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowLevelErrorRetryPolicy"""
    wf = backend.run(e2e_workflow(RETRY_ON_ERROR))
    assert wf["status"]["nodes"][wf["metadata"]["name"]]["type"] == "Retry"


def test_workflow_metadata_labels_from(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWorkflowMetadataLabelsFrom"""
    wf = backend.run(
        e2e_workflow(
            """
metadata:
  generateName: metadata-
spec:
  arguments:
    parameters:
      - name: foo
        value: bar
  workflowMetadata:
    labelsFrom:
      my-label:
        expression: workflow.parameters.foo
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
"""
        )
    )
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["metadata"]["labels"].get("my-label") == "bar"


CONDITIONALS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: conditional-
spec:
  entrypoint: conditional-example
  arguments:
    parameters:
    - name: should-print
      value: "true"
  templates:
  - name: conditional-example
    inputs:
      parameters:
      - name: should-print
    steps:
    - - name: print-hello-govaluate
        template: argosay
        when: "{{inputs.parameters.should-print}} == true" # govaluate form
      - name: print-hello-expr
        template: argosay
        when: "{{= inputs.parameters[\\"should-print\\"] == 'true'}}" # expr form
      - name: print-hello-expr-json
        template: argosay
        when: "{{=jsonpath(workflow.parameters.json, '$[0].value') == 'true'}}" # expr form
  - name: argosay
    container:
      image: argoproj/argosay:v1
      command: [sh, -c]
      args: ["echo hello"]   # Argo: "cowsay hello" (no cowsay on this host)
"""


def test_when_expressions(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestWhenExpressions"""
    wf = backend.run(e2e_workflow(CONDITIONALS))
    assert wf["status"]["phase"] == "Succeeded"  # WaitForWorkflow(fixtures.ToBeSucceeded)
    for name in ("print-hello-govaluate", "print-hello-expr", "print-hello-expr-json"):
        assert node_by_display(wf, name)["type"] != "Skipped"


JSON_VARIABLES = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: json-variables-
  labels:
    myLabel: myLabelValue
  annotations:
    myAnnotation: myAnnotationValue
spec:
  entrypoint: argosay1
  arguments:
    parameters:
    - name: myParam
      value: myParamValue
  templates:
  - name: argosay1
    container:
      image: argoproj/argosay:v1
      command: [echo]
      args:
        - "{{=jsonpath(workflow.labels.json, '$.myLabel')}}"
        - "{{=jsonpath(workflow.annotations.json, '$.myAnnotation')}}"
        - "{{=jsonpath(workflow.parameters.json, '$[0].value')}}"
"""


def test_json_variables(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestJSONVariables"""
    wf = backend.run(e2e_workflow(JSON_VARIABLES))
    # Argo inspects the pod's main container args; here there is no pod, so the three args
    # are read back from what ``echo`` printed (one line, space separated).
    pods = [
        n
        for n in wf["status"]["nodes"].values()
        if n["type"] == "Pod" and n["phase"] == "Succeeded"
    ]
    assert pods, "wfv1.SucceededPodNode finds a node"
    assert stdout_of(backend, pods[0]).split(" ") == [
        "myLabelValue",
        "myAnnotationValue",
        "myParamValue",
    ]


CONTINUE_ON_FAIL = """
metadata:
  generateName: continue-on-fail-
spec:
  entrypoint: main
  parallelism: 2
  templates:
  - name: main
    steps:
    - - name: A
        template: whalesay
      - name: B
        template: boom
        continueOn:
          failed: true
    - - name: C
        template: whalesay

  - name: boom
    dag:
      tasks:
      - name: B-1
        template: whalesplosion

  - name: whalesay
    container:
      image: argoproj/argosay:v2

  - name: whalesplosion
    container:
      image: argoproj/argosay:v2
      args: [ exit, "1" ]
"""


def test_continue_on_fail(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestContinueOnFail"""
    wf = backend.run(e2e_workflow(CONTINUE_ON_FAIL))
    assert wf["status"]["phase"] == "Succeeded"
    assert len(wf["status"]["nodes"]) == 7
    node = node_by_display(wf, "B")
    assert node["phase"] == "Failed"
    assert len(node.get("children") or []) == 1
    assert len(node.get("outboundNodes") or []) == 1


CONTINUE_ON_FAIL_DAG = """
metadata:
  generateName: continue-on-failed-dag-
spec:
  entrypoint: workflow-ignore
  templates:
    - name: workflow-ignore
      dag:
        failFast: false
        tasks:
          - name: F
            template: fail
            continueOn:
              failed: true
          - name: P
            template: pass
            dependencies:
              - F

    - name: pass
      container:
        image: argoproj/argosay:v2

    - name: fail
      container:
        image: argoproj/argosay:v2
        args: [ exit, "1" ]
"""


def test_continue_on_fail_dag(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestContinueOnFailDag"""
    wf = backend.run(e2e_workflow(CONTINUE_ON_FAIL_DAG))
    assert wf["status"]["phase"] == "Succeeded"
    assert node_by_display(wf, "F")["phase"] == "Failed"
    assert node_by_display(wf, "P")["phase"] == "Succeeded"


LOOPS_EMPTY_PARAM = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-param-result-
spec:
  entrypoint: loop-param-result-example
  templates:
  - name: loop-param-result-example
    steps:
    - - name: generate
        template: gen-number-list
    - - name: sleep
        template: sleep-n-sec
        arguments:
          parameters:
          - name: seconds
            value: "{{item}}"
        withParam: "{{steps.generate.outputs.result}}"

  - name: gen-number-list
    script:
      image: argoproj/argosay:v2
      args: ["echo", "[]"]

  - name: sleep-n-sec
    inputs:
      parameters:
      - name: seconds
    container:
      image: argoproj/argosay:v1
      command: [sh, -c]
      args: ["echo sleeping for {{inputs.parameters.seconds}} seconds; sleep {{inputs.parameters.seconds}}; echo done"]
"""


def test_loop_empty_param(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestLoopEmptyParam"""
    wf = backend.run(e2e_workflow(LOOPS_EMPTY_PARAM))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert len(wf["status"]["nodes"]) == 5
    node = node_by_display(wf, "sleep")
    assert node["phase"] == "Skipped"
    assert node.get("message") == "Skipped, empty params"


DAG_EMPTY_PARAM = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-param-result-
spec:
  entrypoint: dag-param-result-example
  templates:
  - name: dag-param-result-example
    dag:
      tasks:
      - name: generate
        template: gen-number-list
      - name: sleep
        template: sleep-n-sec
        arguments:
          parameters:
          - name: seconds
            value: "{{item}}"
        withParam: "{{tasks.generate.outputs.result}}"
        dependencies:
        - generate

  - name: gen-number-list
    script:
      image: argoproj/argosay:v2
      args: ["echo", "[]"]

  - name: sleep-n-sec
    inputs:
      parameters:
      - name: seconds
    container:
      image: argoproj/argosay:v1
      command: [sh, -c]
      args: ["echo sleeping for {{inputs.parameters.seconds}} seconds; sleep {{inputs.parameters.seconds}}; echo done"]
"""


def test_dag_empty_param(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestDAGEmptyParam"""
    wf = backend.run(e2e_workflow(DAG_EMPTY_PARAM))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert len(wf["status"]["nodes"]) == 3
    node = node_by_display(wf, "sleep")
    assert node["phase"] == "Skipped"
    assert node.get("message") == "Skipped, empty params"


STEPS_WHEN_EXPR_FILTER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: steps-when-expr-filter-
spec:
  entrypoint: main
  templates:
    - name: main
      inputs:
        parameters:
          - name: test
            value: 'true'
          - name: list
            value: "{{= concat(['always'], inputs.parameters.test == 'true' ? ['test'] : []) | toJSON() }}"
      steps:
        - - name: fst
            template: run
            when: |
              "{{= get(item, 'type') ?? 'always' }}"
              in
              ("{{= inputs.parameters.list | fromJSON() | join('","') }}","")
            withParam: |
              [
                { "name": "first", "type": "" },
                { "name": "second", "type": "always" },
                { "name": "third", "type": "test" },
                { "name": "fourth" }
              ]
            arguments:
              parameters:
                - name: name
                  value: "{{ item.name }}{{ inputs.parameters.list }}"
    - name: run
      inputs:
        parameters:
          - name: name
      container:
        image: argoproj/argosay:v2
        args: ["echo", "{{inputs.parameters.name}}"]
"""


def test_steps_when_expr_filter(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestStepsWhenExprFilter"""
    wf = backend.run(e2e_workflow(STEPS_WHEN_EXPR_FILTER))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    for name in (
        "fst(0:name:first,type:)",
        "fst(1:name:second,type:always)",
        "fst(2:name:third,type:test)",
        "fst(3:name:fourth)",
    ):
        node = find_display(wf, name)
        assert node is not None, name
        assert node["phase"] == "Succeeded", name


DAG_WHEN_EXPR_SKIP = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-when-expr-skip-
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: data
        value: ''
  templates:
    - name: main
      dag:
        tasks:
          - name: A
            template: echo
            arguments:
              parameters:
                - name: message
                  value: A
          - name: B
            dependencies: [A]
            when: "{{= workflow.parameters.data != '' }}"
            template: echo
            arguments:
              parameters:
                - name: message
                  value: "{{= jsonpath(workflow.parameters.data, '$.id') }}"
    - name: echo
      inputs:
        parameters:
          - name: message
      container:
        image: argoproj/argosay:v2
        args: ["echo", "{{inputs.parameters.message}}"]
"""


def test_dag_when_expr_skip(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestDAGWhenExprSkip"""
    wf = backend.run(e2e_workflow(DAG_WHEN_EXPR_SKIP))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    node = find_display(wf, "B")
    assert node is not None
    assert node["phase"] == "Skipped"


PARAM_AGGREGATION = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: parameter-aggregation-
spec:
  entrypoint: parameter-aggregation
  templates:
  - name: parameter-aggregation
    steps:
    - - name: odd-or-even
        template: odd-or-even
        arguments:
          parameters:
          - name: num
            value: "{{item}}"
        withItems: [1, 2]
    - - name: divide-by-2
        template: divide-by-2
        arguments:
          parameters:
          - name: num
            value: "{{item.num}}"
        withParam: "{{steps.odd-or-even.outputs.parameters}}"
        when: "{{item.evenness}} == even"
    - - name: print
        template: whalesay
        arguments:
          parameters:
          - name: message
            value: "{{item}}"
        withParam: "{{steps.divide-by-2.outputs.parameters}}"

  - name: odd-or-even
    inputs:
      parameters:
      - name: num
    container:
      image: argoproj/argosay:v1
      command: [sh, -xc]
      args:
      - |
        sleep 1 &&
        echo {{inputs.parameters.num}} > /tmp/num &&
        if [ $(({{inputs.parameters.num}}%2)) -eq 0 ]; then
          echo "even" > /tmp/even;
        else
          echo "odd" > /tmp/even;
        fi
    outputs:
      parameters:
      - name: num
        valueFrom:
          path: /tmp/num
      - name: evenness
        valueFrom:
          path: /tmp/even

  - name: divide-by-2
    inputs:
      parameters:
      - name: num
    container:
      image: argoproj/argosay:v1
      command: [sh, -c]
      args: ["echo $(({{inputs.parameters.num}}/2)) > /tmp/res"]
    outputs:
      parameters:
        - name: res
          valueFrom:
            path: /tmp/res

  - name: whalesay
    inputs:
      parameters:
      - name: message
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.message}}"]
"""


def test_parameter_aggregation(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestParameterAggregation"""
    wf = backend.run(e2e_workflow(PARAM_AGGREGATION))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    node = find_display(wf, "print(0:res:1)")
    assert node is not None
    assert node["phase"] == "Succeeded"


PARAM_AGGREGATION_FROM_OUTPUTS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: double-fan-out-using-param-
spec:
  entrypoint: main-dag
  templates:
    - inputs:
        parameters:
          - name: param1
      name: operation
      outputs:
        parameters:
          - name: output1
            valueFrom:
              path: /tmp/fan_out.json
      container:
        image: argoproj/argosay:v2
        args: ["echo", "{{inputs.parameters.param1}}", "/tmp/fan_out.json"]
    - dag:
        tasks:
          - arguments:
              parameters:
                - name: param1
                  value: '{{item}}'
            name: task3
            template: operation
            withParam: '{{inputs.parameters.param1}}'
      inputs:
        parameters:
          - name: param1
      name: secondary-dag
    - dag:
        tasks:
          - arguments:
              parameters:
                - name: param1
                  value: '[[{"key1": "value1"}, {"key2": "value2"}, {"key3": "value3"}], [{"key4": "value4"}, {"key5": "value5"}]]'
            name: task1
            template: operation
          - arguments:
              parameters:
                - name: param1
                  value: '{{item}}'
            depends: task1
            name: task2
            template: operation
            withParam: '{{tasks.task1.outputs.parameters.output1}}'
          - arguments:
              parameters:
                - name: param1
                  value: '{{item}}'
            depends: task2
            name: task3-dag
            template: secondary-dag
            withParam: '{{tasks.task2.outputs.parameters.output1}}'
      name: main-dag
"""


def test_parameter_aggregation_from_outputs(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestParameterAggregationFromOutputs"""
    wf = backend.run(e2e_workflow(PARAM_AGGREGATION_FROM_OUTPUTS))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    for name in (
        "task3(0:key1:value1)",
        "task3(1:key2:value2)",
        "task3(2:key3:value3)",
        "task3(0:key4:value4)",
        "task3(1:key5:value5)",
    ):
        assert find_display(wf, name) is not None, name


PARAM_AGGREGATION_DAG_WITH_RETRY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: parameter-aggregation-dag-with-retry
spec:
  retryStrategy:
    limit: 1
  entrypoint: fanout-dag-with-output
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
    - name: fanout-dag-with-output
      dag:
        tasks:
          - name: echo-list
            template: echo-value
            arguments:
              parameters:
                - name: message
                  value: '{{item}}'
            withItems: [1, 2, 3]
      outputs:
        parameters:
          - name: dummy-dag-output
            valueFrom:
              parameter: '{{tasks.echo-list.outputs.parameters.dummy-output}}'
"""


def test_parameter_aggregation_dag_with_retry(backend: LocalBackend) -> None:
    """test/e2e/functional_test.go TestParameterAggregationDAGWithRetry"""
    wf = backend.run(e2e_workflow(PARAM_AGGREGATION_DAG_WITH_RETRY))
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    node = find_display(wf, "parameter-aggregation-dag-with-retry(0)")
    assert node is not None
    assert node["phase"] == "Succeeded"
    outputs = node.get("outputs")
    assert outputs is not None
    assert len(outputs.get("parameters") or []) == 1
    assert outputs["parameters"][0]["value"] == '["1","2","3"]'


# Not translated (TestVolumeClaimTemplate, TestArtifactRepositoryRef and TestPause* are in
# test_functional_third.py):
# TestDeletingPendingPod - kubectl patch/delete of a pod.
# TestWorkflowTTL - the TTL controller deletes the Workflow object; the local runner
#   accepts ttlStrategy and ignores it by design (validation.py docstring).
# TestWorkflowRetention - controller configuration (workflow retention policy).
# TestResourceQuota - a Kubernetes ResourceQuota.
# TestEventOnNodeFail / TestEventOnWorkflowSuccess / TestEventOnPVCFail - Kubernetes events
#   (and a PVC creation failure).
# TestPendingRetryWorkflow / TestPendingRetryWorkflowWithRetryStrategy - a memory
#   ResourceQuota keeping pods Pending.
