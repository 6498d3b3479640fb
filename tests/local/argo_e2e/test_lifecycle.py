"""Argo's own e2e tests (argoproj/argo-workflows v4.1.2, ``test/e2e/``), run on the local runner.

Each test submits the workflow of the Go test named in its docstring and asserts what that
Go test asserts of a real controller. Adaptations, all harness matters:

* ``argoproj/argosay`` containers without a command run Argo's argosay script
  (``tests.local.argo_e2e.e2e_workflow``); a ``/argosay`` inside an explicit shell command is
  rewritten to ``sh <that script>`` (the image's binary is not on the host).
* ``cowsay`` (docker/whalesay) is not on the host: ``echo`` stands in where only the exit code
  matters.
* CLI invocations (``argo retry``, ``argo stop`` ...) become the matching ``LocalBackend`` call;
  the CLI's printed output ("workflow x stopped", "Name:") is not asserted, only that the
  call succeeds, and the workflow's resulting state.
"""

from __future__ import annotations

import http.server
import inspect
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from tests.local.argo_e2e import (
    ARGOSAY,
    e2e_workflow,
    find_display,
    node_by_display,
    serving,
    wait_until,
)

Workflow = dict[str, Any]
Node = dict[str, Any]

_ARGOSAY_IN_SHELL = re.compile(r"(?<![\w/.-])/argosay\b")
FINAL = ("Succeeded", "Failed", "Error")


def _shell_argosay(value: Any) -> Any:
    if isinstance(value, str):
        return _ARGOSAY_IN_SHELL.sub(f"sh {ARGOSAY}", value)
    if isinstance(value, list):
        return [_shell_argosay(v) for v in value]
    if isinstance(value, dict):
        return {k: _shell_argosay(v) for k, v in value.items()}
    return value


def wf(text: str, *, kind: str | None = None) -> Workflow:
    """An e2e workflow as the Go fixture submits it (``Given().Workflow``)."""
    manifest = e2e_workflow(text)
    if kind is not None:
        manifest["kind"] = kind
    manifest["spec"] = _shell_argosay(manifest["spec"])
    return manifest


def template(text: str, kind: str = "WorkflowTemplate") -> Workflow:
    manifest = wf(text)
    manifest["kind"] = kind
    return manifest


def find(workflow: Workflow, selector: Callable[[Node], bool]) -> Node:
    """``ExpectWorkflowNode``: the node the selector picks; the Go test errors without one."""
    for node in workflow["status"]["nodes"].values():
        if selector(node):
            return node
    raise AssertionError("Did not find expected node")


def flag(node: Node, name: str) -> bool:
    return bool((node.get("nodeFlag") or {}).get(name))


def any_active_suspend_node(workflow: Workflow) -> bool:
    """``WorkflowStatus.AnyActiveSuspendNode``."""
    return any(
        n["type"] == "Suspend" and n["phase"] == "Running"
        for n in workflow["status"]["nodes"].values()
    )


def has_running_pod(workflow: Workflow) -> bool:
    """``fixtures.ToHaveRunningPod``."""
    return any(
        n["type"] == "Pod" and n["phase"] == "Running" for n in workflow["status"]["nodes"].values()
    )


def completed(workflow: Workflow) -> bool:
    return workflow["status"].get("phase") in FINAL


def require_parameter(method: Callable[..., Any], parameter: str) -> None:
    if parameter not in inspect.signature(method).parameters:
        pytest.fail(
            f"LocalBackend.{method.__name__} has no {parameter!r}: the Go test needs "
            "argo's --node-field-selector"
        )


# --------------------------------------------------------------------------- hooks_test.go


def test_workflow_level_hooks_success_version(backend: LocalBackend) -> None:
    """hooks_test.go TestWorkflowLevelHooksSuccessVersion."""
    done = backend.run(
        wf("""
metadata:
  generateName: lifecycle-hook-
spec:
  entrypoint: main
  hooks:
    running:
      expression: workflow.status == "Running"
      template: argosay
    succeed:
      expression: workflow.status == "Succeeded"
      template: argosay
  templates:
    - name: main
      steps:
      - - name: step1
          template: argosay
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay"]
""")
    )
    assert done["status"]["phase"] == "Succeeded"
    assert find(done, lambda n: ".hooks.running" in n["name"])["phase"] == "Succeeded"
    assert find(done, lambda n: ".hooks.succeed" in n["name"])["phase"] == "Succeeded"


def test_workflow_level_hooks_fail_version(backend: LocalBackend) -> None:
    """hooks_test.go TestWorkflowLevelHooksFailVersion."""
    done = backend.run(
        wf("""
metadata:
  generateName: lifecycle-hook-
spec:
  entrypoint: main
  hooks:
    running:
      expression: workflow.status == "Running"
      template: hook
    failed:
      expression: workflow.status == "Failed"
      template: hook
  templates:
    - name: main
      steps:
      - - name: step1
          template: argosay
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay; exit 1"]
    - name: hook
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay"]
""")
    )
    assert done["status"]["phase"] == "Failed"
    assert find(done, lambda n: ".hooks.running" in n["name"])["phase"] == "Succeeded"
    assert find(done, lambda n: ".hooks.failed" in n["name"])["phase"] == "Succeeded"


def test_template_level_hooks_step_success_version(backend: LocalBackend) -> None:
    """hooks_test.go TestTemplateLevelHooksStepSuccessVersion."""
    done = backend.run(
        wf("""
metadata:
  generateName: lifecycle-hook-tmpl-level-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: step-1
            hooks:
              running:
                expression: steps["step-1"].status == "Running"
                template: argosay
              succeed:
                expression: steps["step-1"].status == "Succeeded"
                template: argosay
            template: argosay
        - - name: step-2
            hooks:
              running:
                expression: steps["step-2"].status == "Running"
                template: argosay
              succeed:
                expression: steps["step-2"].status == "Succeeded"
                template: argosay
            template: argosay
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay"]
""")
    )
    assert done["status"]["phase"] == "Succeeded"
    for hook in ("step-1.hooks.succeed", "step-1.hooks.running", "step-2.hooks.succeed"):
        assert find(done, lambda n, h=hook: h in n["name"])["phase"] == "Succeeded", hook


def test_template_level_hooks_step_fail_version(backend: LocalBackend) -> None:
    """hooks_test.go TestTemplateLevelHooksStepFailVersion."""
    done = backend.run(
        wf("""
metadata:
  generateName: lifecycle-hook-tmpl-level-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: step-1
            hooks:
              running:
                expression: steps["step-1"].status == "Running"
                template: hook
              failed:
                expression: steps["step-1"].status == "Failed"
                template: hook
            template: argosay
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay; exit 1"]
    - name: hook
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay"]
""")
    )
    assert done["status"]["phase"] == "Failed"
    assert find(done, lambda n: "step-1.hooks.failed" in n["name"])["phase"] == "Succeeded"
    assert find(done, lambda n: "step-1.hooks.running" in n["name"])["phase"] == "Succeeded"


def test_template_level_hooks_dag_success_version(backend: LocalBackend) -> None:
    """hooks_test.go TestTemplateLevelHooksDagSuccessVersion."""
    done = backend.run(
        wf("""
metadata:
  generateName: lifecycle-hook-tmpl-level-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: step-1
            hooks:
              running:
                expression: tasks["step-1"].status == "Running"
                template: argosay
              succeed:
                expression: tasks["step-1"].status == "Succeeded"
                template: argosay
            template: argosay
          - name: step-2
            hooks:
              running:
                expression: tasks["step-2"].status == "Running"
                template: argosay
              succeed:
                expression: tasks["step-2"].status == "Succeeded"
                template: argosay
            template: argosay
            dependencies: [step-1]
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay"]
""")
    )
    assert done["status"]["phase"] == "Succeeded"
    for hook in ("step-1.hooks.succeed", "step-1.hooks.running", "step-2.hooks.succeed"):
        assert find(done, lambda n, h=hook: h in n["name"])["phase"] == "Succeeded", hook
    find(done, lambda n: "step-2.hooks.running" in n["name"])  # exists (phase not asserted)


def test_template_level_hooks_dag_fail_version(backend: LocalBackend) -> None:
    """hooks_test.go TestTemplateLevelHooksDagFailVersion."""
    done = backend.run(
        wf("""
metadata:
  generateName: lifecycle-hook-tmpl-level-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: step-1
            hooks:
              running:
                expression: tasks["step-1"].status == "Running"
                template: hook
              failed:
                expression: tasks["step-1"].status == "Failed"
                template: hook
            template: argosay
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay; exit 1"]
    - name: hook
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay"]
""")
    )
    assert done["status"]["phase"] == "Failed"
    assert find(done, lambda n: "step-1.hooks.failed" in n["name"])["phase"] == "Succeeded"
    assert find(done, lambda n: "step-1.hooks.running" in n["name"])["phase"] == "Succeeded"


def test_template_level_hooks_dag_has_dependency_version(
    backend: LocalBackend,
) -> None:
    """hooks_test.go TestTemplateLevelHooksDagHasDependencyVersion."""
    done = backend.run(
        wf("""
metadata:
  generateName: lifecycle-hook-tmpl-level-
spec:
  templates:
    - name: main
      dag:
        tasks:
          - name: A
            template: fail
            hooks:
              running:
                template: hook
                expression: tasks.A.status == "Running"
              success:
                template: hook
                expression: tasks.A.status == "Succeeded"
          - name: B
            template: success
            dependencies:
              - A
            hooks:
              running:
                template: hook
                expression: tasks.B.status == "Running"
              success:
                template: hook
                expression: tasks.B.status == "Succeeded"
    - name: success
      container:
        name: ''
        image: argoproj/argosay:v2
        command: [/bin/sh, '-c']
        args: [/bin/sleep 1; /argosay; exit 0]
    - name: fail
      container:
        name: ''
        image: argoproj/argosay:v2
        command: [/bin/sh, '-c']
        args: [/bin/sleep 1; /argosay; exit 1]
    - name: hook
      container:
        name: ''
        image: argoproj/argosay:v2
        command: [/bin/sh, '-c']
        args: [/bin/sleep 1; /argosay]
  entrypoint: main
""")
    )
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["progress"] == "1/2"  # unnecessary hooks are not triggered
    assert find(done, lambda n: "A.hooks.running" in n["name"])["phase"] == "Succeeded"
    # Go: strings.Contains(status.Name, "B") (a generated name is lower case)
    assert find(done, lambda n: "B" in n["name"])["phase"] == "Omitted"


def test_workflow_level_hooks_wait_for_triggered_hook(backend: LocalBackend) -> None:
    """hooks_test.go TestWorkflowLevelHooksWaitForTriggeredHook."""
    done = backend.run(
        wf("""
metadata:
  generateName: lifecycle-hook-
spec:
  entrypoint: main
  hooks:
    running:
      expression: workflow.status == "Running"
      template: argosay-sleep-2seconds
    failed:
      expression: workflow.status == "Failed"
      template: argosay-sleep-2seconds
  templates:
    - name: main
      steps:
      - - name: step1
          template: argosay
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 1; /argosay"]
    - name: argosay-sleep-2seconds
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 2; /argosay"]
""")
    )
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["progress"] == "2/2"
    assert find(done, lambda n: ".hooks.running" in n["name"])["phase"] == "Succeeded"


def test_template_level_hooks_wait_for_triggered_hook(backend: LocalBackend) -> None:
    """hooks_test.go TestTemplateLevelHooksWaitForTriggeredHook."""
    done = backend.run(
        wf("""
metadata:
  generateName: example-steps
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: job
            template: argosay
            hooks:
              running:
                expression: steps['job'].status == "Running"
                template: argosay-sleep-2seconds
              failed:
                expression: steps['job'].status == "Failed"
                template: argosay-sleep-2seconds
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 5; /argosay"]
    - name: argosay-sleep-2seconds
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args: ["/bin/sleep 2; /argosay"]
""")
    )
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["progress"] == "2/2"
    assert find(done, lambda n: "job.hooks.running" in n["name"])["phase"] == "Succeeded"


def test_template_level_hooks_wait_for_triggered_hook_and_respect_synchronization(
    backend: LocalBackend,
) -> None:
    """hooks_test.go TestTemplateLevelHooksWaitForTriggeredHookAndRespectSynchronization."""
    done = backend.run(
        wf("""
metadata:
  generateName: example-steps-simple-mutex
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: job
            template: exit0
            hooks:
              running:
                expression: steps['job'].status == "Running"
                template: sleep
              succeed:
                expression: steps['job'].status == "Succeeded"
                template: sleep
    - name: sleep
      synchronization:
        mutexes:
          - name: job
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "4"]
    - name: exit0
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "2"]
""")
    )
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["progress"] == "3/3"
    assert find(done, lambda n: "job.hooks.running" in n["name"])["phase"] == "Succeeded"
    assert find(done, lambda n: "job.hooks.succeed" in n["name"])["phase"] == "Succeeded"


def test_workflow_level_hooks_with_retry(backend: LocalBackend) -> None:
    """hooks_test.go TestWorkflowLevelHooksWithRetry."""
    done = backend.run(
        wf("""
metadata:
  name: test-workflow-level-hooks-with-retry
spec:
  templates:
    - name: argosay
      container:
        image: argoproj/argosay:v2
        command: [/bin/sh, '-c']
        args: [/bin/sleep 1; exit 1]
      retryStrategy:
        limit: 1
    - name: hook
      container:
        image: argoproj/argosay:v2
        command: [/bin/sh, '-c']
        args: [/argosay]
  entrypoint: argosay
  hooks:
    failed:
      template: hook
      expression: workflow.status == "Failed"
    running:
      template: hook
      expression: workflow.status == "Running"
""")
    )
    name = "test-workflow-level-hooks-with-retry"
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["progress"] == "2/4"
    for hook in ("running", "failed"):
        node = find(done, lambda n, h=hook: n["name"] == f"{name}.hooks.{h}")
        assert node["phase"] == "Succeeded"
        assert flag(node, "hooked") and not flag(node, "retried")
    root = find(done, lambda n: n["name"] == name)
    assert (root["phase"], root["type"]) == ("Failed", "Retry")
    assert root.get("nodeFlag") is None
    for attempt in ("(0)", "(1)"):
        node = find(done, lambda n, a=attempt: n["name"] == name + a)
        assert node["phase"] == "Failed"
        assert not flag(node, "hooked") and flag(node, "retried")


def test_template_level_hooks_with_retry(backend: LocalBackend) -> None:
    """hooks_test.go TestTemplateLevelHooksWithRetry."""
    done = backend.run(
        wf("""
metadata:
  name: retries-with-hooks-and-artifact
  labels:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: build
            template: output-artifact
            hooks:
              started:
                expression: steps["build"].status == "Running"
                template: started
              success:
                expression: steps["build"].status == "Succeeded"
                template: success
              failed:
                expression: steps["build"].status == "Failed" || steps["build"].status == "Error"
                template: failed
        - - name: print
            template: print-artifact
            arguments:
              artifacts:
                - name: message
                  from: "{{steps.build.outputs.artifacts.result}}"
    - name: output-artifact
      script:
        image: argoproj/argosay:v2
        command: [/bin/sh]
        source: |
          sleep 1
          echo 'Welcome' > result.txt
          [ "{{retries}}" = "2" ]
      retryStrategy:
        limit: 2
      outputs:
        artifacts:
          - name: result
            path: /result.txt
    - name: started
      container:
        image: argoproj/argosay:v2
        args: ["echo", "STARTED!"]
    - name: success
      container:
        image: argoproj/argosay:v2
        args: ["echo", "SUCCEEDED!"]
    - name: failed
      container:
        image: argoproj/argosay:v2
        args: ["echo", "FAILED or ERROR!"]
    - name: print-artifact
      inputs:
        artifacts:
          - name: message
            path: /tmp/message
      container:
        image: argoproj/argosay:v2
        args: ["cat", "/tmp/message"]
""")
    )
    name = "retries-with-hooks-and-artifact"
    # status.Fulfilled() and Succeeded
    assert done["status"]["phase"] == "Succeeded"
    children: list[str] = []
    for node in done["status"]["nodes"].values():
        if node["type"] == "Retry":
            assert node["phase"] == "Succeeded"
            children = node.get("children") or []
    first = find(done, lambda n: n["name"] == f"{name}[0].build(0)")
    assert first["id"] in children and not flag(first, "hooked")
    for hook in ("started", "success"):
        node = find(done, lambda n, h=hook: n["name"] == f"{name}[0].build.hooks.{h}")
        assert node["id"] in children, hook
        assert flag(node, "hooked") and node["phase"] == "Succeeded"
    assert find(done, lambda n: n["name"] == f"{name}[1].print")["phase"] == "Succeeded"


def test_exit_handler_with_workflow_level_deadline(backend: LocalBackend) -> None:
    """hooks_test.go TestExitHandlerWithWorkflowLevelDeadline."""
    done = backend.run(
        wf("""
metadata:
  name: exit-handler-with-workflow-level-deadline
spec:
  entrypoint: main
  activeDeadlineSeconds: 1
  hooks:
    exit:
      template: exit-handler
  templates:
    - name: main
      steps:
      - - name: sleep
          template: sleep
    - name: exit-handler
      steps:
      - - name: sleep
          template: sleep
    - name: sleep
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "5"]
""")
    )
    assert done["status"]["phase"] == "Failed"
    on_exit = find_display(done, "exit-handler-with-workflow-level-deadline.onExit")
    assert on_exit is not None
    assert flag(on_exit, "hooked") and on_exit["phase"] == "Succeeded"


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_http_exit_handler_with_workflow_level_deadline(
    backend: LocalBackend,
) -> None:
    """hooks_test.go TestHttpExitHandlerWithWorkflowLevelDeadline (httpbin: a local server)."""
    with serving(_Ok) as base:
        done = backend.run(
            wf(f"""
metadata:
  name: http-exit-handler-with-workflow-level-deadline
spec:
  entrypoint: main
  activeDeadlineSeconds: 1
  hooks:
    exit:
      template: exit-handler
  templates:
    - name: main
      steps:
      - - name: sleep
          template: sleep
    - name: sleep
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "5"]
    - name: exit-handler
      steps:
      - - name: http
          template: http
    - name: http
      http:
        url: {base}/get
""")
        )
    assert done["status"]["phase"] == "Failed"
    on_exit = find_display(done, "http-exit-handler-with-workflow-level-deadline.onExit")
    assert on_exit is not None
    assert flag(on_exit, "hooked") and on_exit["phase"] == "Succeeded"


# --------------------------------------------------------------------------- retry_test.go


def test_retry_limit(backend: LocalBackend) -> None:
    """retry_test.go TestRetryLimit."""
    done = backend.run(
        wf("""
metadata:
  name: test-retry-limit
spec:
  entrypoint: main
  templates:
    - name: main
      retryStrategy:
        limit: 0
        backoff:
          duration: 2s
          factor: 2
          maxDuration: 5m
      container:
        name: main
        image: 'argoproj/argosay:v2'
        args: [ exit, "1" ]
""")
    )
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["message"] == "No more retries left"
    assert done["status"]["progress"] == "0/1"
    root = find(done, lambda n: n["name"] == "test-retry-limit")
    assert (root["phase"], root["type"]) == ("Failed", "Retry")
    assert root.get("nodeFlag") is None
    attempt = find(done, lambda n: n["name"] == "test-retry-limit(0)")
    assert attempt["phase"] == "Failed" and flag(attempt, "retried")


def test_retry_backoff(backend: LocalBackend) -> None:
    """retry_test.go TestRetryBackoff, its durations divided by ten (Go: duration 10s,
    maxDuration 1m): maxDuration, not the limit, ends the retries either way."""
    text = """
metadata:
  generateName: test-backoff-strategy-
spec:
  entrypoint: main
  templates:
    - name: main
      retryStrategy:
        limit: {limit}
        backoff:
          duration: 1s
          maxDuration: 6s
      container:
          name: main
          image: 'argoproj/argosay:v2'
          args: [ exit, "1" ]
"""
    names = [backend.submit(wf(text.format(limit=limit))) for limit in ("'10'", "10")]
    for name in names:
        done = backend.wait(name, timeout=30)
        assert done["status"]["phase"] == "Failed"
        assert len(done["status"]["nodes"]) <= 10


def test_workflow_template_with_retry_strategy_in_container_set(
    backend: LocalBackend,
) -> None:
    """retry_test.go TestWorkflowTemplateWithRetryStrategyInContainerSet (the log lines the
    Go test counts, "capturing logs", are the executor's own and not asserted)."""
    backend.apply(
        template("""
metadata:
  name: containerset-with-retrystrategy
spec:
  entrypoint: test
  templates:
    - name: test
      containerSet:
        retryStrategy:
          retries: "2"
        containers:
          - name: c1
            image: argoproj/argosay:v2
            args: ["echo", "hi"]
          - name: c2
            image: argoproj/argosay:v2
            command:
              - invalid
              - command
          - name: c3
            image: argoproj/argosay:v2
            command: [ sh, -c ]
            args: [ "echo intentional failure; exit 1" ]
""")
    )
    done = backend.run(
        wf("""
metadata:
  name: workflow-template-containerset
spec:
  workflowTemplateRef:
    name: containerset-with-retrystrategy
""")
    )
    assert done["status"]["phase"] == "Failed"
    # ExpectContainerLogs reads each container's log; the local runner keeps one log per pod
    # (every container of the set), so the per-container expectations are checked on it.
    logs = "\n".join(line.content for line in backend.logs("workflow-template-containerset"))
    assert "hi" in logs  # c1: success, no need to retry
    assert "executable file not found in $PATH" in logs  # c2: command error, no retry
    assert logs.count("intentional failure") == 2  # c3: retried ("retries: 2" is 2 attempts)


# --------------------------------------------------------------------------- expr_lang_test.go


def test_shadowed_expr_functions_as_task_names(backend: LocalBackend) -> None:
    """expr_lang_test.go TestShadowedExprFunctionsAsTaskNames."""
    done = backend.run(
        wf("""
metadata:
  generateName: broken-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: split
            template: foo
          - name: map
            template: foo
            depends: split
    - name: foo
      container:
        image: argoproj/argosay:v2
        command:
        - echo
        args:
        - foo
""")
    )
    assert done["status"]["phase"] == "Succeeded"
    assert find(done, lambda n: ".split" in n["name"])["phase"] == "Succeeded"
    assert find(done, lambda n: ".map" in n["name"])["phase"] == "Succeeded"


def test_item_in_sprig_expr(backend: LocalBackend) -> None:
    """expr_lang_test.go TestItemInSprigExpr."""
    done = backend.run(
        wf("""
metadata:
  generateName: item-used-in-sprig-
spec:
  entrypoint: loop-example
  templates:
  - name: print-message
    container:
      image: argoproj/argosay:v2
      args:
      - '{{inputs.parameters.message}}'
      command:
      - echo
    inputs:
      parameters:
      - name: message
  - name: loop-example
    steps:
    - - name: print-message-loop
        template: print-message
        withItems:
        - example
        arguments:
          parameters:
          - name: message
            value: '{{=sprig.upper(item)}}'
""")
    )
    assert done["status"]["phase"] == "Succeeded"
    step = node_by_display(done, "print-message-loop(0:example)")
    assert step["inputs"]["parameters"][0]["value"] == "EXAMPLE"


# --------------------------------------------------------------------------- failed_main_test.go


def test_failed_main(backend: LocalBackend) -> None:
    """failed_main_test.go TestFailedMain."""
    done = backend.run(
        wf("""
metadata:
  generateName: failed-main-
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: argoproj/argosay:v2
      args: [ exit, "1" ]
""")
    )
    assert done["status"]["phase"] == "Failed"


# --------------------------------------------------------------------------- suspend_test.go


def test_suspend_node_timeout_without_default_value(backend: LocalBackend) -> None:
    """suspend_test.go TestSuspendNodeTimeoutWithoutDefaultValue (cowsay: echo)."""
    done = backend.run(
        wf("""
metadata:
  name: suspend-node-timeout-without-default-value
spec:
  entrypoint: suspend
  templates:
  - name: suspend
    steps:
    - - name: approve
        template: approve
    - - name: release
        template: whalesay
        arguments:
          parameters:
            - name: message
              value: "{{steps.approve.outputs.parameters.message}}"
  - name: approve
    suspend:
      duration: 1s
    outputs:
      parameters:
        - name: message
          valueFrom:
            supplied: {}
  - name: whalesay
    inputs:
      parameters:
        - name: message
    container:
      image: docker/whalesay
      command: [echo]
      args: ["{{inputs.parameters.message}}"]
""")
    )
    assert done["status"]["phase"] == "Failed"
    # The Go test writes assert.Contains(t, <text>, status.Message), arguments swapped, and its
    # suite is never run (suspend_test.go has no suite.Run). What the controller does:
    # executeSuspend (operator.go) returns OverrideOutputParametersWithDefault's error
    # (workflow/util/util.go); executeTemplate marks the suspend node Error with it; the step
    # group is errored "due to child ... error: <it>" and the workflow Failed with that message.
    text = "raw output parameter 'message' has not been set and does not have a default value"
    assert text in done["status"].get("message", "")
    approve = node_by_display(done, "approve")
    assert (approve["phase"], approve.get("message")) == ("Error", text)
    assert find_display(done, "release") is None


def test_suspend_node_timeout_with_default_value(backend: LocalBackend) -> None:
    """suspend_test.go TestSuspendNodeTimeoutWithDefaultValue (cowsay: echo; the suspend's
    duration 1s for 5s: it only has to run out)."""
    done = backend.run(
        wf("""
metadata:
  name: suspend-node-timeout-with-default-value
spec:
  entrypoint: suspend
  templates:
  - name: suspend
    steps:
    - - name: approve
        template: approve
    - - name: release
        template: whalesay
        arguments:
          parameters:
            - name: message
              value: "{{steps.approve.outputs.parameters.message}}"
  - name: approve
    suspend:
      duration: 1s
    outputs:
      parameters:
        - name: message
          valueFrom:
            default: default message
            supplied: {}
  - name: whalesay
    inputs:
      parameters:
        - name: message
    container:
      image: docker/whalesay
      command: [echo]
      args: ["{{inputs.parameters.message}}"]
""")
    )
    name = "suspend-node-timeout-with-default-value"
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["progress"] == "2/2"
    approve = find(done, lambda n: n["name"] == f"{name}[0].approve")
    assert approve["phase"] == "Succeeded"
    assert approve["outputs"]["parameters"] == [
        {**approve["outputs"]["parameters"][0], "name": "message", "value": "default message"}
    ]
    release = find(done, lambda n: n["name"] == f"{name}[1].release")
    assert release["phase"] == "Succeeded"
    assert len(release["inputs"]["parameters"]) == 1
    assert release["inputs"]["parameters"][0]["name"] == "message"
    assert release["inputs"]["parameters"][0]["value"] == "default message"


# --------------------------------------------------------------------------- signals_test.go

STOP_TERMINATE = """
metadata:
  generateName: stop-terminate-
spec:
  entrypoint: main
  onExit: exit
  templates:
    - name: main
      dag:
        tasks:
          - name: A
            template: echo
            onExit: exit-template
    - name: echo
      container:
        image: argoproj/argosay:v1
        command: [ sleep ]
        args: [ "999" ]
    - name: exit
      container:
        image: argoproj/argosay:v1
    - name: exit-template
      container:
        image: argoproj/argosay:v1
        command: [ sleep ]
        args: [ "5" ]
"""


def test_stop_behavior(backend: LocalBackend) -> None:
    """signals_test.go TestStopBehavior (skipped upstream as flaky)."""
    name = backend.submit(wf(STOP_TERMINATE))
    wait_until(backend, name, has_running_pod)
    backend.stop(name)
    done = backend.wait(name, timeout=60)
    assert done["status"]["phase"] in ("Failed", "Error")
    a = find_display(done, "A")
    assert a is not None and a["phase"] in ("Failed", "Error")
    a_exit = find_display(done, "A.onExit")
    assert a_exit is not None and a_exit["phase"] == "Succeeded"
    wf_exit = find_display(done, f"{name}.onExit")
    assert wf_exit is not None and wf_exit["phase"] == "Succeeded"


def test_stop_behavior_with_daemon(backend: LocalBackend) -> None:
    """signals_test.go TestStopBehaviorWithDaemon."""
    name = backend.submit(
        wf("""
metadata:
  generateName: stop-terminate-daemon-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: Daemon
            template: sleep
        - - name: B
            template: pass
    - name: sleep
      daemon: true
      container:
        image: argoproj/argosay:v1
        command: [ sleep ]
        args: [ "999" ]
    - name: pass
      container:
        image: argoproj/argosay:v1
        command: [ sleep ]
        args: [ "999" ]
""")
    )
    wait_until(backend, name, has_running_pod)
    backend.stop(name)
    done = backend.wait(name, timeout=60)
    assert done["status"]["phase"] in ("Failed", "Error")
    daemon = find_display(done, "Daemon")
    assert daemon is not None and daemon["phase"] == "Succeeded"


def test_terminate_behavior(backend: LocalBackend) -> None:
    """signals_test.go TestTerminateBehavior."""
    name = backend.submit(wf(STOP_TERMINATE))
    wait_until(backend, name, has_running_pod)
    backend.terminate(name)
    done = backend.wait(name, timeout=60)
    assert done["status"]["phase"] in ("Failed", "Error")
    a = find_display(done, "A")
    assert a is not None and a["phase"] in ("Failed", "Error")
    assert find_display(done, "A.onExit") is None
    assert find_display(done, f"{name}.onExit") is None


def test_do_not_create_pods_under_stop_behavior(backend: LocalBackend) -> None:
    """signals_test.go TestDoNotCreatePodsUnderStopBehavior."""
    name = backend.submit(
        wf("""
metadata:
  generateName: stop-terminate-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: A
            template: sleep
        - - name: B
            template: pass
    - name: sleep
      container:
        image: argoproj/argosay:v1
        command: [ sleep ]
        args: [ "999" ]
    - name: pass
      container:
        image: argoproj/argosay:v1
""")
    )
    wait_until(backend, name, has_running_pod)
    backend.stop(name)
    done = backend.wait(name, timeout=60)
    assert done["status"]["phase"] == "Failed"
    a = find_display(done, "A")
    assert a is not None and a["phase"] == "Failed"
    assert find_display(done, "B") is None


def test_sidecars(backend: LocalBackend) -> None:
    """signals_test.go TestSidecars."""
    name = backend.submit(
        wf("""
metadata:
  generateName: sidecar-
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v1
      sidecars:
        - name: sidecar
          image: argoproj/argosay:v1
          command: [ sh, -c ]
          args: [ "sleep 999" ]
""")
    )
    assert backend.wait(name, timeout=120)["status"]["phase"] == "Succeeded"


def test_injected_sidecar(backend: LocalBackend) -> None:
    """signals_test.go TestInjectedSidecar (podSpecPatch has no local meaning)."""
    name = backend.submit(
        wf("""
metadata:
  generateName: sidecar-injected-
spec:
  entrypoint: main
  podSpecPatch: |
    terminationGracePeriodSeconds: 3
    containers:
      - name: wait
      - name: main
      - name: sidecar
        image: argoproj/argosay:v1
        command:
         - sh
         - -c
        args:
          - "sleep 999"
  templates:
    - name: main
      container:
        image: argoproj/argosay:v1
""")
    )
    assert backend.wait(name, timeout=120)["status"]["phase"] == "Succeeded"


def test_sub_process(backend: LocalBackend) -> None:
    """signals_test.go TestSubProcess (WaitForWorkflow: it completes)."""
    name = backend.submit(
        wf("""
metadata:
  generateName: subprocess-
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v1
        command: [ sh, -c ]
        args:
          - |
            sleep 60 &
            ps -aef
""")
    )
    assert completed(backend.wait(name, timeout=60))


def test_signaled(backend: LocalBackend) -> None:
    """signals_test.go TestSignaled."""
    done = backend.run(
        wf("""
metadata:
  generateName: signaled-
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v1
        command: [ bash, -c ]
        args:
          - |
            kill $BASHPID
""")
    )
    assert done["status"]["phase"] == "Failed"
    assert "(exit code 143)" in done["status"]["message"]


# --------------------------------------------------------------------------- daemon_pod_test.go

DAEMON_SPEC = """
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
        - name: redis
          template: redis-tmpl
        - name: whale
          dependencies: [redis]
          template: whale-tmpl
  - name: redis-tmpl
    daemon: true
    container:
      image: argoproj/argosay:v2
      args: ["sleep", "100s"]
  - name: whale-tmpl
    container:
      image: argoproj/argosay:v2
"""


def test_workflow_completes_if_contains_daemon_pod(backend: LocalBackend) -> None:
    """daemon_pod_test.go TestWorkflowCompletesIfContainsDaemonPod."""
    name = backend.submit(
        wf("""
metadata:
  generateName: whalesay-
spec:
  entrypoint: whalesay
  templates:
  - name: whalesay
    dag:
      tasks:
        - name: redis
          template: redis-tmpl
        - name: whale
          dependencies: [redis]
          template: whale-tmpl
  - name: redis-tmpl
    daemon: true
    container:
      image: argoproj/argosay:v2
      args: ["sleep", "100s"]
  - name: whale-tmpl
    container:
      image: argoproj/argosay:v2
""")
    )
    done = backend.wait(name, timeout=60)
    assert completed(done)
    assert done["status"].get("finishedAt")


def test_daemon_from_workflow_template(backend: LocalBackend) -> None:
    """daemon_pod_test.go TestDaemonFromWorkflowTemplate."""
    backend.apply(template("metadata:\n  name: daemon\nspec:" + DAEMON_SPEC))
    name = backend.submit(
        {
            "metadata": {"generateName": "daemon-"},
            "spec": {"workflowTemplateRef": {"name": "daemon"}},
        }
    )
    assert backend.wait(name, timeout=60)["status"]["phase"] == "Succeeded"


def test_daemon_from_cluster_workflow_template(backend: LocalBackend) -> None:
    """daemon_pod_test.go TestDaemonFromClusterWorkflowTemplate."""
    backend.apply(
        template("metadata:\n  name: daemon\nspec:" + DAEMON_SPEC, "ClusterWorkflowTemplate")
    )
    name = backend.submit(
        {
            "metadata": {"generateName": "daemon-"},
            "spec": {"workflowTemplateRef": {"name": "daemon", "clusterScope": True}},
        }
    )
    assert backend.wait(name, timeout=60)["status"]["phase"] == "Succeeded"


def test_daemon_template_ref(backend: LocalBackend) -> None:
    """daemon_pod_test.go TestDaemonTemplateRef."""
    backend.apply(
        template("""
metadata:
  name: broken-pipeline
spec:
  entrypoint: main
  templates:
  - name: do-something
    container:
      image: argoproj/argosay:v2
  - name: main
    dag:
      tasks:
        - name: do-something
          template: do-something
        - name: run-tests-broken
          depends: "do-something"
          templateRef:
            name: run-tests-broken
            template: main
""")
    )
    backend.apply(
        template("""
metadata:
  name: run-tests-broken
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
      - - name: postgres
          template: postgres
      - - name: run-tests-broken
          template: run-tests-broken
  - name: run-tests-broken
    container:
      image: argoproj/argosay:v2
  - name: postgres
    daemon: true
    container:
      image: argoproj/argosay:v2
      args: ["sleep", "100s"]
      name: database
""")
    )
    for tmpl in ("broken-pipeline", "run-tests-broken"):  # SubmitWorkflowsFromWorkflowTemplates
        name = backend.submit(
            {
                "metadata": {"generateName": f"{tmpl}-"},
                "spec": {"workflowTemplateRef": {"name": tmpl}},
            }
        )
    # the fixture waits for the last one submitted
    assert backend.wait(name, timeout=60)["status"]["phase"] == "Succeeded"


def test_mark_daemoned_pod_succeeded(backend: LocalBackend) -> None:
    """daemon_pod_test.go TestMarkDaemonedPodSucceeded."""
    name = backend.submit(
        wf("""
metadata:
  generateName: daemoned-pod-completed-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: daemoned
            template: daemoned
          - name: daemon-dependent
            dependencies: [daemoned]
            template: daemon-dependent
    - name: daemoned
      daemon: true
      container:
        image: argoproj/argosay:v2
        command: ["sleep"]
        args: ["60"]
    - name: daemon-dependent
      container:
        image: argoproj/argosay:v2
""")
    )
    done = backend.wait(name, timeout=60)
    assert done["status"]["phase"] == "Succeeded"
    node = find_display(done, "daemoned")
    assert node is not None and node["phase"] == "Succeeded"


def test_daemon_pod_retry(backend: LocalBackend) -> None:
    """daemon_pod_test.go TestDaemonPodRetry, its sleeps shortened (10s to 2s, 15s to 4s): the
    whale task still outlasts the first attempt and runs beside the second."""
    name = backend.submit(
        wf("""
metadata:
  name: daemon-retry
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
        - name: daemoned
          template: daemoned
        - name: whale
          dependencies: [daemoned]
          template: whale-tmpl
  - name: daemoned
    retryStrategy:
      limit: 2
    daemon: true
    container:
      image: argoproj/argosay:v2
      command: ["bash"]
      args:
        - "-c"
        - |
          echo "Attempt {{retries}}";
          if [ "{{retries}}" -eq 0 ]; then
            sleep 2 && exit 1;
          else
            sleep 120 && exit 1;
          fi
  - name: whale-tmpl
    container:
      image: argoproj/argosay:v2
      command: ["bash"]
      args: ["-c", "echo hi & sleep 4 && echo bye"]
""")
    )
    done = backend.wait(name, timeout=90)
    failed, succeeded = find_display(done, "daemoned(0)"), find_display(done, "daemoned(1)")
    assert failed is not None and succeeded is not None
    assert failed["phase"] == "Failed"
    assert succeeded["phase"] == "Succeeded"
    assert done["status"]["phase"] == "Succeeded"


# --------------------------------------------------------------------------- progress_test.go


def test_default_progress(backend: LocalBackend) -> None:
    """progress_test.go TestDefaultProgress."""
    done = backend.run(
        wf("""
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
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["progress"] == "1/1"
    assert done["status"]["nodes"][done["metadata"]["name"]]["progress"] == "1/1"


def test_logged_progress(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """progress_test.go TestLoggedProgress at a fifth of its time: Argo's e2e controller
    reports every 7s (test/e2e/manifests/components/in-cluster-argo/
    workflow-controller-deployment.yaml) a pod that sleeps 10s twice; here 1s ticks and 2s."""
    monkeypatch.setenv("ARGO_PROGRESS_PATCH_TICK_DURATION", "1s")
    monkeypatch.setenv("ARGO_PROGRESS_FILE_TICK_DURATION", "1s")
    name = backend.submit(
        wf("""
metadata:
  generateName: progress-
  labels:
    argo-e2e: "true"
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: progress
            template: progress
    - name: progress
      container:
        image: argoproj/argosay:v2
        command: ["/bin/sh", "-c"]
        args:
          - /argosay echo 0/100 $ARGO_PROGRESS_FILE && /argosay sleep 2s && /argosay echo 50/100 $ARGO_PROGRESS_FILE && /argosay sleep 2s
""")
    )

    def to_have_progress(progress: str) -> Callable[[Workflow], bool]:
        def check(workflow: Workflow) -> bool:
            node = find_display(workflow, "progress")
            return (
                workflow["status"]["nodes"].get(name, {}).get("progress") == progress
                and node is not None
                and node.get("progress") == progress
            )

        return check

    wait_until(backend, name, lambda w: w["status"].get("phase") == "Running")
    wait_until(backend, name, to_have_progress("0/100"), timeout=60)
    wait_until(backend, name, to_have_progress("50/100"), timeout=60)
    done = backend.wait(name, timeout=60)
    assert done["status"]["nodes"][name]["progress"] == "100/100"


# ------------------------------------------------------------------ invalid_command_test.go


def test_invalid_command(backend: LocalBackend) -> None:
    """invalid_command_test.go TestInvalidCommand."""
    done = backend.run(
        wf("""
metadata:
  generateName: cannot-start-
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        command: [ invalid ]
""")
    )
    assert done["status"]["phase"] == "Failed"
    assert "executable file not found" in done["status"]["message"]


# --------------------------------------------------------------------------- cli_test.go


def test_workflow_suspend_resume(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowSuspendResume."""
    name = backend.submit(
        wf("""
metadata:
  generateName: sleep-3s-
spec:
  entrypoint: sleep-3s
  templates:
    - name: sleep-3s
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "3s"]
""")
    )
    wait_until(backend, name, lambda w: bool(w["status"].get("startedAt")))  # ToStart
    backend.suspend(name)
    backend.resume(name)
    assert backend.wait(name, timeout=60)["status"]["phase"] == "Succeeded"


NODE_SUSPEND = """
metadata:
  generateName: node-suspend-
spec:
  entrypoint: node-suspend
  templates:
    - name: node-suspend
      steps:
      - - name: step1
          template: whalesay
      - - name: suspend1
          template: suspend
          arguments:
            parameters:
              - name: "tag"
                value: "suspend1-{{steps.step1.outputs.result}}"
      - - name: suspend2
          template: suspend
          arguments:
            parameters:
              - name: "tag"
                value: "suspend2-{{steps.step1.outputs.result}}"
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        args: ["echo", "tag1"]
    - name: suspend
      inputs:
        parameters:
          - name: tag
      suspend: {}
"""


def test_node_suspend_resume(backend: LocalBackend) -> None:
    """cli_test.go TestNodeSuspendResume (resume/stop with --node-field-selector)."""
    require_parameter(backend.resume, "node_field_selector")
    require_parameter(backend.stop, "node_field_selector")
    name = backend.submit(wf(NODE_SUSPEND))
    wait_until(backend, name, any_active_suspend_node)
    backend.resume(name, node_field_selector="inputs.parameters.tag.value=suspend1-tag1")  # type: ignore[call-arg]
    wait_until(
        backend,
        name,
        lambda w: any_active_suspend_node(w) and find_display(w, "suspend2") is not None,
    )
    backend.stop(  # type: ignore[call-arg]
        name, node_field_selector="inputs.parameters.tag.value=suspend2-tag1", message="because"
    )
    done = backend.wait(name, timeout=60)
    assert done["status"]["phase"] == "Failed"
    assert re.search(r"child 'node-suspend-.*' failed", done["status"]["message"])


def test_workflow_retry(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowRetry (retry --restart-successful with a node field selector)."""
    name = backend.submit(
        wf("""
metadata:
  generateName: retry-test-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: steps-outer-step1
            template: whalesay
        - - name: steps-outer-step2
            template: steps-inner
    - name: steps-inner
      steps:
        - - name: steps-inner-step1
            template: whalesay
        - - name: steps-inner-step2
            template: approve
    - name: approve
      suspend: {}
    - name: whalesay
      container:
        image: argoproj/argosay:v2
""")
    )
    wait_until(backend, name, any_active_suspend_node)
    time.sleep(1.1)  # timestamps are whole seconds; local pods end within the first one
    backend.terminate(name)
    terminated = wait_until(backend, name, lambda w: w["status"].get("phase") == "Failed")
    retry_time = terminated["status"]["finishedAt"]
    time.sleep(3)
    require_parameter(backend.retry, "node_field_selector")
    backend.retry(  # type: ignore[call-arg]
        name, restart_successful=True, node_field_selector="templateName==steps-inner"
    )
    again = wait_until(backend, name, any_active_suspend_node)
    outer = node_by_display(again, "steps-outer-step1")
    inner = node_by_display(again, "steps-inner-step1")
    assert outer["finishedAt"] < retry_time
    assert retry_time < inner["finishedAt"]
    backend.terminate(name)
    backend.wait(name, timeout=30)


def test_workflow_retry_failed_workflow(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowRetryFailedWorkflow."""
    manifest = wf("""
metadata:
  name: fail-first-pass-second-workflow
  labels:
    workflows.argoproj.io/workflow: "fail-first-pass-second-workflow"
spec:
  entrypoint: main
  volumeClaimTemplates:
    - metadata:
        name: artifacts
      spec:
        accessModes: [ "ReadWriteOnce" ]
        resources:
          requests:
            storage: 0.1Gi
  templates:
    - name: main
      container:
        name: main
        image: 'argoproj/argosay:v2'
        volumeMounts:
          - name: artifacts
            mountPath: /tmp
        command: [sh, -c]
        args:
          - |
            if [ -s /tmp/artifact.txt ]
            then
              echo "Successfully retried failing workflow."
              exit 0
            else
              echo "test artifact" > /tmp/artifact.txt
              exit 1
            fi
      outputs:
        artifacts:
          - name: artifact
            path: /tmp/artifact.txt
""")
    first = backend.run(manifest)
    assert first["status"]["phase"] == "Failed"
    backend.retry(first["metadata"]["name"], wait=True)
    assert backend.get(first["metadata"]["name"])["status"]["phase"] == "Succeeded"


def test_workflow_retry_nested_dag(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowRetryNestedDag (retry --restart-successful with a node field
    selector)."""
    first = backend.run(
        wf("""
metadata:
  name: retry-nested-dag
spec:
  entrypoint: outer-dag
  templates:
    - name: outer-dag
      dag:
        tasks:
          - name: dag1-step1
            template: node-to-succeed
          - name: dag1-step2
            dependencies: [dag1-step1]
            template: middle-dag
          - name: dag1-step3-tofail
            dependencies: [dag1-step2]
            template: node-to-fail
    - name: middle-dag
      dag:
        tasks:
          - name: dag2-step1
            template: inner-dag
    - name: inner-dag
      dag:
        tasks:
          - name: dag3-step1
            template: node-to-succeed
          - name: dag3-step2
            dependencies: [dag3-step1]
            template: node-to-succeed
          - name: dag3-step3
            dependencies: [dag3-step2]
            template: node-to-succeed
    - name: node-to-succeed
      container:
        image: argoproj/argosay:v2
        command: [ sh, -c ]
        args: [ "exit 0" ]
    - name: node-to-fail
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["exit 1"]
""")
    )
    assert first["status"]["phase"] == "Failed"
    require_parameter(backend.retry, "node_field_selector")
    backend.retry(  # type: ignore[call-arg]
        "retry-nested-dag",
        restart_successful=True,
        node_field_selector="name=retry-nested-dag.dag1-step2.dag2-step1.dag3-step1",
        wait=True,
    )
    done = backend.get("retry-nested-dag")
    assert done["status"]["phase"] == "Failed"
    for step in ("dag3-step3", "dag3-step2", "dag3-step1"):
        assert node_by_display(done, step)["phase"] == "Succeeded"


def test_workflow_retry_with_recreated_pvc(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowRetryWithRecreatedPVC."""
    first = backend.run(
        wf("""
metadata:
  name: retry-with-recreated-pvc
spec:
  volumeClaimGC:
    strategy: OnWorkflowCompletion
  entrypoint: volumes-pvc-example
  volumeClaimTemplates:
    - metadata:
        name: workdir
      spec:
        accessModes: [ "ReadWriteOnce" ]
        resources:
          requests:
            storage: 1Gi
  templates:
    - name: volumes-pvc-example
      steps:
        - - name: generate
            template: whalesay
        - - name: print
            template: print-message
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["echo generating message in volume; cowsay hello world | tee /mnt/vol/hello_world.txt"]
        volumeMounts:
          - name: workdir
            mountPath: /mnt/vol
    - name: print-message
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["exit 1"]
        volumeMounts:
          - name: workdir
            mountPath: /mnt/vol
""")
    )
    assert first["status"]["phase"] == "Failed"
    backend.retry("retry-with-recreated-pvc", wait=True)
    done = backend.get("retry-with-recreated-pvc")
    assert done["status"]["phase"] == "Failed"
    print_node = node_by_display(done, "print")
    assert print_node["phase"] == "Failed"
    assert print_node["message"] == "main: Error (exit code 1)"


def test_retry_workflow_with_continue_on(backend: LocalBackend) -> None:
    """cli_test.go TestRetryWorkflowWithContinueOn (a WorkflowTemplate file submitted as a
    Workflow, as the fixture does)."""
    first = backend.run(
        wf(
            """
metadata:
  name: retry-workflow-with-continueon
spec:
  entrypoint: dag
  templates:
    - name: dag
      retryStrategy:
        limit: 2
        retryPolicy: OnError
      dag:
        failFast: false
        tasks:
          - name: success
            template: node-to-exit
            arguments:
              parameters:
                - name: exitCode
                  value: "0"
          - name: failure
            template: node-to-exit
            dependencies: [success]
            arguments:
              parameters:
                - name: exitCode
                  value: "1"
          - name: task-after-failure
            template: node-to-exit
            dependencies: [failure]
            arguments:
              parameters:
                - name: exitCode
                  value: "0"
          - name: continue
            template: node-to-exit
            continueOn:
              failed: true
            dependencies: [success]
            arguments:
              parameters:
                - name: exitCode
                  value: "2"
          - name: task-after-continue
            template: node-to-exit
            dependencies: [continue]
            arguments:
              parameters:
                - name: exitCode
                  value: "0"
    - name: node-to-exit
      inputs:
        parameters:
          - name: exitCode
      container:
        image: argoproj/argosay:v2
        args: [ "exit", "{{inputs.parameters.exitCode}}" ]
""",
            kind="Workflow",
        )
    )
    name = first["metadata"]["name"]
    assert first["status"]["phase"] == "Failed"
    assert len(first["status"]["nodes"]) == 7
    backend.retry(name, wait=True)
    done = backend.get(name)
    assert done["status"]["phase"] == "Failed"
    assert len(done["status"]["nodes"]) == 7
    assert len(find(done, lambda n: ".success" in n["name"]).get("children") or []) == 2


def test_retry_workflow_with_failed_exit_handler(backend: LocalBackend) -> None:
    """cli_test.go TestRetryWorkflowWithFailedExitHandler."""
    first = backend.run(
        wf("""
metadata:
  name: retry-workflow-with-failed-exit-handler
spec:
  entrypoint: hello
  onExit: exit-handler
  templates:
  - name: hello
    container:
      image: argoproj/argosay:v2
      args: ["echo", "hello"]
  - name: exit-handler
    container:
      image: argoproj/argosay:v2
      args: ["exit", "1"]
""")
    )
    name = first["metadata"]["name"]
    assert first["status"]["phase"] == "Failed"
    assert len(first["status"]["nodes"]) == 2
    backend.retry(name, wait=True)
    done = backend.get(name)
    assert done["status"]["phase"] == "Failed"
    assert len(done["status"]["nodes"]) == 2
    assert find(done, lambda n: n["name"] == name)["phase"] == "Succeeded"
    on_exit = find(done, lambda n: ".onExit" in n["name"])
    assert on_exit["phase"] == "Failed"
    assert "exit code 1" in on_exit["message"]


BASIC = """
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


def test_workflow_stop(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowStop (the CLI only has to succeed)."""
    name = backend.submit(wf(BASIC))
    backend.stop(name)
    assert completed(backend.wait(name, timeout=30))


def test_workflow_terminate(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowTerminate (the CLI only has to succeed)."""
    name = backend.submit(wf(BASIC))
    backend.terminate(name)
    assert completed(backend.wait(name, timeout=30))


def test_workflow_resubmit(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowResubmit (resubmit --memoized only has to succeed)."""
    name = backend.submit(
        wf("""
metadata:
  generateName: exit-1-
spec:
  entrypoint: exit
  templates:
    - name: exit
      container:
        image: argoproj/argosay:v2
        args: [exit, "1"]
""")
    )
    backend.wait(name, timeout=30)
    again = backend.resubmit(name, memoized=True)
    assert backend.get(again)["metadata"]["name"] == again
    backend.wait(again, timeout=30)


def test_workflow_resubmit_dag_with_dependencies(backend: LocalBackend) -> None:
    """cli_test.go TestWorkflowResubmitDAGWithDependencies."""
    first = backend.run(
        wf("""
metadata:
  generateName: resubmit-dag-with-dependencies-
  labels:
    workflow: resubmit-dag-with-dependencies
spec:
  entrypoint: rand-fail-dag
  templates:
    - name: rand-fail-dag
      dag:
        tasks:
          - name: A
            template: success
          - name: B
            template: fail
            depends: A
          - name: C
            depends: "B"
            template: success
          - name: D
            depends: "C"
            template: success
    - name: fail
      container:
        image: argoproj/argosay:v2
        args: ["exit", "1"]
    - name: success
      container:
        image: argoproj/argosay:v2
        args: ["exit", "0"]
""")
    )
    assert first["status"]["phase"] == "Failed"
    again = backend.resubmit(first["metadata"]["name"], memoized=True, wait=True)
    done = backend.get(again)
    assert done["status"]["phase"] == "Failed"
    assert len(done["status"]["nodes"]) == 5
    a = find(done, lambda n: ".A" in n["name"])
    assert a["type"] == "Skipped" and "original pod" in a["message"]
    b = find(done, lambda n: ".B" in n["name"])
    assert b["phase"] == "Failed" and "exit code 1" in b["message"]
    for task in (".C", ".D"):
        node = find(done, lambda n, t=task: t in n["name"])
        assert node["type"] == "Skipped", task
        assert "omitted: depends condition not met" in node["message"], task


def test_retry_omit(backend: LocalBackend) -> None:
    """cli_test.go TestRetryOmit."""
    first = backend.run(
        wf("""
metadata:
  generateName: retry-omit-
spec:
  entrypoint: main
  templates:
    - dag:
        tasks:
          - name: F
            template: fail
          - name: O
            depends: F
            template: pass
      name: main
    - name: pass
      container:
        image: argoproj/argosay:v2
    - name: fail
      container:
        args:
          - exit
          - "1"
        image: argoproj/argosay:v2
""")
    )
    assert first["status"]["phase"] == "Failed"
    assert node_by_display(first, "O")["phase"] == "Omitted"
    backend.retry(first["metadata"]["name"], wait=True)  # fixtures.NoError
