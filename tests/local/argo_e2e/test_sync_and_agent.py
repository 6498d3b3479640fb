"""Argo's ``test/e2e/semaphore_test.go`` and ``test/e2e/agent_test.go`` (v4.1.2), run on the
local runner with the Go tests' own assertions.

Workflows are copied from the Go test or its yaml file (``test/e2e/synchronization/``).
Adaptations, each noted where made, are harness matters:

* ``WaitForWorkflow(condition)`` watches the workflow until the condition holds, and errors
  if the workflow is done first ("condition never and cannot be met because the workflow is
  done"). Here a workflow run in this process is observed through every state the runner saves
  (``on_update``): a cluster's pods take seconds, the host's take milliseconds, and polling
  could miss a state the Go test catches. ``ExpectWorkflow`` re-reads the workflow after the
  wait; here it reads the state that met the condition (which on a cluster is still current
  seconds later, when the pods are still running).
* ``CreateConfigMap`` becomes ``backend.apply`` of that ConfigMap (with the fixture's
  ``workflows.argoproj.io/test`` label). ``DeleteConfigMap`` has no ``LocalBackend``
  counterpart; the Go test deletes it after the workflow is done, where it changes nothing.
* ``agent_test.go`` calls public services (``https://argoproj.github.io``,
  ``https://google.com``) and the e2e cluster's ``httpbin`` service: a local server stands in
  for both (no network here), answering as they do for what the tests check.

Three tests fail against the local runner as of this port, each a divergence from Argo:
``test_synchronization_wf_level_mutex`` (``spec.synchronization`` takes no lock),
``test_template_level_mutex`` (held/awaited locks never appear in ``status.synchronization``)
and ``test_workflow_level_semaphore`` (a submitted workflow reads ``Pending`` before any
runner has seen it, where Argo's phase is ``""`` until the controller's first operate).
"""

from __future__ import annotations

import copy
import http.server
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from tests.local.argo_e2e import done, e2e_workflow, find_display, serving, wait_until

Workflow = dict[str, Any]
Condition = Callable[[Workflow], bool]

TEST_LABEL = {"workflows.argoproj.io/test": "true"}


# --------------------------------------------------------------------------- fixtures.When


def create_config_map(backend: LocalBackend, name: str, data: dict[str, str]) -> None:
    """``When.CreateConfigMap``."""
    backend.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "labels": dict(TEST_LABEL)},
            "data": data,
        }
    )


def to_have_phase(phase: str) -> Condition:
    """``fixtures.ToHavePhase`` (``wfv1.WorkflowUnknown`` is ``""``)."""
    return lambda workflow: (workflow.get("status") or {}).get("phase", "") == phase


to_be_running = to_have_phase("Running")
to_be_succeeded = to_have_phase("Succeeded")


def to_be_waiting_on_a_mutex(workflow: Workflow) -> bool:
    """``fixtures.ToBeWaitingOnAMutex``: ``Status.Synchronization.Mutex != nil``."""
    return ((workflow.get("status") or {}).get("synchronization") or {}).get("mutex") is not None


def run_observed(backend: LocalBackend, manifest: Workflow) -> list[Workflow]:
    """Run ``manifest`` in this process; every state the runner saved, the last one final."""
    states: list[Workflow] = []
    final = backend.run(manifest, on_update=lambda w: states.append(copy.deepcopy(w)))
    if not states or states[-1] != final:
        states.append(copy.deepcopy(final))
    return states


def wait_for(states: list[Workflow], condition: Condition, start: int = 0) -> int:
    """``When.WaitForWorkflow(condition)`` over saved states: the index of the first that meets
    it; as the fixture, an error when the workflow is done before it does."""
    for index in range(start, len(states)):
        if condition(states[index]):
            return index
        if done(states[index]):
            raise AssertionError("condition never and cannot be met because the workflow is done")
    raise AssertionError("condition not met")  # pragma: no cover - the last state is done


def _nodes(workflow: Workflow) -> list[dict[str, Any]]:
    return list(workflow["status"]["nodes"].values())


# --------------------------------------------------------------------------- semaphore_test.go


MUTEX_WF_LEVEL_1 = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: wf-level-mutex-1-
spec:
  entrypoint: main
  synchronization:
    mutexes:
      - name:  test
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "2s"]
"""

# Verbatim, "dbapiVersion" (a typo in Argo's file) included: the Go fixture decodes the file
# into a wfv1.Workflow, which drops the unknown field; e2e_workflow adds the apiVersion, and the
# local runner ignores the stray key as Argo's decoding does.
MUTEX_WF_LEVEL = """
dbapiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: wf-level-mutex-
spec:
  entrypoint: main
  synchronization:
    mutexes:
      - name: test
  templates:
    - name: main
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "2s"]
"""


def test_synchronization_wf_level_mutex(backend: LocalBackend) -> None:
    """semaphore_test.go TestSynchronizationWfLevelMutex"""
    first = backend.submit(e2e_workflow(MUTEX_WF_LEVEL_1))
    try:
        # The first runs detached (Argo's controller runs both at once); this one in-process.
        states = run_observed(backend, e2e_workflow(MUTEX_WF_LEVEL))
        waiting = wait_for(states, to_be_waiting_on_a_mutex)
        wait_for(states, to_be_succeeded, waiting)
    finally:
        backend.wait(first, timeout=30)


def test_template_level_mutex(backend: LocalBackend) -> None:
    """semaphore_test.go TestTemplateLevelMutex"""
    states = run_observed(
        backend,
        e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: tmpl-level-mutex-
spec:
  entrypoint: synchronization-tmpl-level-example-mutex
  templates:
  - name: synchronization-tmpl-level-example-mutex
    steps:
    - - name: synchronization-acquire-lock
        template: acquire-lock
        arguments:
          parameters:
          - name: seconds
            value: "{{item}}"
        withParam: '["1","2"]'

      - name: synchronization-acquire-lock-1
        template: acquire-lock-1
        arguments:
          parameters:
            - name: seconds
              value: "{{item}}"
        withParam: '["1","2"]'

  - name: acquire-lock
    synchronization:
      mutexes:
        - name: welcome
    container:
      image: argoproj/argosay:v2
      args: ["sleep", "2s"]

  - name: acquire-lock-1
    synchronization:
      mutexes:
        - name: test
    container:
      image: argoproj/argosay:v2
      args: ["sleep", "2s"]
"""),
    )
    waiting = wait_for(states, to_be_waiting_on_a_mutex)
    wait_for(states, to_be_succeeded, waiting)


def test_workflow_level_semaphore(backend: LocalBackend) -> None:
    """semaphore_test.go TestWorkflowLevelSemaphore"""
    manifest = e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: semaphore-wf-level-
spec:
  entrypoint: whalesay
  synchronization:
    semaphores:
      - configMapKeyRef:
          name: my-config
          key: workflow
  templates:
  - name: whalesay
    container:
      image: argoproj/argosay:v2
""")
    create_config_map(backend, "my-config", {"workflow": "1"})
    name = backend.submit(manifest)
    try:
        wait_until(backend, name, to_have_phase(""))  # wfv1.WorkflowUnknown
        wait_until(backend, name, done)
        # DeleteConfigMap("my-config"): no LocalBackend counterpart; the workflow is done.
        wait_until(backend, name, to_be_succeeded)
    finally:
        backend.wait(name, timeout=30)


def test_template_level_semaphore(backend: LocalBackend) -> None:
    """semaphore_test.go TestTemplateLevelSemaphore"""
    manifest = e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: semaphore-tmpl-level-
spec:
  entrypoint: semaphore-tmpl-level-example
  templates:
  - name: semaphore-tmpl-level-example
    steps:
    - - name: sleep
        template: sleep-n-sec
        arguments:
          parameters:
          - name: seconds
            value: "{{item}}"
        withItems:
        - hello
        - goodbye

  - name: sleep-n-sec
    inputs:
      parameters:
      - name: seconds
    synchronization:
      semaphores:
        - configMapKeyRef:
            name: my-config
            key: template
    container:
      image: argoproj/argosay:v2
""")
    create_config_map(backend, "my-config", {"template": "1"})
    states = run_observed(backend, manifest)
    running = states[wait_for(states, to_be_running)]
    assert any("Waiting for" in (n.get("message") or "") for n in _nodes(running))
    assert done(states[-1])  # WaitForWorkflow(90s): to be done


def test_synchronization_tmpl_level_mutex_and_semaphore(backend: LocalBackend) -> None:
    """semaphore_test.go TestSynchronizationTmplLevelMutexAndSemaphore"""
    manifest = e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: tmpl-level-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: task-1
            template: django-command
          - name: task-2
            template: load-command

    - name: load-command
      synchronization:
        mutexes:
          - name: task-1
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "2s"]

    - name: django-command
      synchronization:
        mutexes:
          - name: task-1
          - name: task-2
        semaphores:
          - configMapKeyRef:
              name: my-config
              key: workflow
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "2s"]
""")
    create_config_map(backend, "my-config", {"workflow": "1"})
    states = run_observed(backend, manifest)
    wait_for(states, to_be_succeeded)


def test_synchronization_multiple(backend: LocalBackend) -> None:
    """semaphore_test.go TestSynchronizationMultiple"""
    manifest = e2e_workflow("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: multiple-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: task-1
            template: django-command
          - name: task-2
            template: load-command

    - name: load-command
      synchronization:
        mutexes:
          - name: load-1
          - name: load-2
        semaphores:
          - configMapKeyRef:
              name: my-config
              key: workflow
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "2s"]

    - name: django-command
      synchronization:
        mutexes:
          - name: django-1
          - name: django-2
        semaphores:
          - configMapKeyRef:
              name: my-config
              key: workflow
      container:
        image: argoproj/argosay:v2
        args: ["sleep", "2s"]
""")
    create_config_map(backend, "my-config", {"workflow": "2"})
    states = run_observed(backend, manifest)
    wait_for(states, to_be_succeeded)


# --------------------------------------------------------------------------- agent_test.go

# Stands in for a public site's response time, so that requests made one after another would
# spread their finish times past the Go test's two-second window.
LATENCY = 1.0


@pytest.fixture
def http_server() -> Iterator[str]:
    """``https://argoproj.github.io`` (``/``), ``https://google.com`` (``/google``) and the e2e
    cluster's httpbin (``/status/<code>``: that status, an empty body, as httpbin answers)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/status/"):
                self.send_response(int(self.path.rsplit("/", 1)[1]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            time.sleep(LATENCY)
            if self.path == "/google":
                body = b"<!doctype html><html><title>Google</title>www.google.com</html>"
            else:
                body = b"<!doctype html><html><title>Argo Project</title></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        yield base


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_parallel(backend: LocalBackend, http_server: str) -> None:
    """agent_test.go TestParallel"""
    # https://argoproj.github.io → the local server (LATENCY per request)
    text = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: http-template-par-
  workflowMetadata:
    labels:
      workflows.argoproj.io/test: "true"
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: one
            template: http
            arguments:
              parameters: [{name: url, value: "https://argoproj.github.io"}]
          - name: two
            template: http
            arguments:
              parameters: [{name: url, value: "https://argoproj.github.io"}]
          - name: three
            template: http
            arguments:
              parameters: [{name: url, value: "https://argoproj.github.io"}]
          - name: four
            template: http
            arguments:
              parameters: [{name: url, value: "https://argoproj.github.io"}]
    - name: http
      inputs:
        parameters:
          - name: url
      http:
        url: "{{inputs.parameters.url}}"
"""
    manifest = e2e_workflow(text.replace("https://argoproj.github.io", f"{http_server}/"))
    states = run_observed(backend, manifest)
    status = states[-1]["status"]
    assert done(states[-1])  # WaitForWorkflow(ToBeCompleted)

    assert status["phase"] == "Succeeded"
    # Ensure that the workflow ran for less than 10 seconds (EnvFactor 1; loose by nature)
    assert (_time(status["finishedAt"]) - _time(status["startedAt"])).total_seconds() < 10

    http_nodes = [n for n in _nodes(states[-1]) if n["type"] == "HTTP"]
    finished_times = sorted(_time(n["finishedAt"]) for n in http_nodes)
    start_times = sorted(_time(n["startedAt"]) for n in http_nodes)
    assert len(finished_times) == 4
    # Everything finished with a two second tolerance window
    assert (finished_times[3] - finished_times[0]).total_seconds() < 2
    assert len(start_times) == 4
    # Everything started with same time
    assert (start_times[3] - start_times[0]).total_seconds() == 0


def test_status_condition(backend: LocalBackend, http_server: str) -> None:
    """agent_test.go TestStatusCondition"""
    # http://httpbin:9100 and https://google.com → the local server
    text = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: http-template-condition-
  workflowMetadata:
    labels:
      workflows.argoproj.io/test: "true"
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: http-status-is-201-fails
            template: http-status-is-201
            arguments:
              parameters: [{name: url, value: "http://httpbin:9100/status/200"}]
          - name: http-status-is-201-succeeds
            template: http-status-is-201
            arguments:
              parameters: [{name: url, value: "http://httpbin:9100/status/201"}]
          - name: http-body-contains-google-fails
            template: http-body-contains-google
            arguments:
              parameters: [{name: url, value: "http://httpbin:9100/status/200"}]
          - name: http-body-contains-google-succeeds
            template: http-body-contains-google
            arguments:
              parameters: [{name: url, value: "https://google.com"}]
    - name: http-status-is-201
      inputs:
        parameters:
          - name: url
      http:
        successCondition: "response.statusCode == 201"
        url: "{{inputs.parameters.url}}"
    - name: http-body-contains-google
      inputs:
        parameters:
          - name: url
      http:
        successCondition: "response.body contains \\"google\\""
        url: "{{inputs.parameters.url}}"
"""
    text = text.replace("http://httpbin:9100", http_server)
    text = text.replace("https://google.com", f"{http_server}/google")
    states = run_observed(backend, e2e_workflow(text))
    workflow = states[-1]
    assert done(workflow)  # WaitForWorkflow(2 * time.Minute)
    assert workflow["status"]["phase"] == "Failed"

    contains_fails = find_display(workflow, "http-body-contains-google-fails")
    assert contains_fails is not None
    assert contains_fails["phase"] == "Failed"

    contains_succeeds = find_display(workflow, "http-body-contains-google-succeeds")
    assert contains_fails is not None  # sic: the Go test checks containsFails again
    assert contains_succeeds is not None  # a nil node would panic the Go test
    assert contains_succeeds["phase"] == "Succeeded"

    status_fails = find_display(workflow, "http-status-is-201-fails")
    assert status_fails is not None
    assert status_fails["phase"] == "Failed"

    status_succeeds = find_display(workflow, "http-status-is-201-succeeds")
    assert status_fails is not None  # sic
    assert status_succeeds is not None
    assert status_succeeds["phase"] == "Succeeded"
