"""Argo's own end-to-end workflows, made runnable on the local runner.

Argo's e2e suite (argoproj/argo-workflows ``test/e2e/*_test.go``, Apache-2.0) submits
workflows to a real controller and asserts what it made of them: phases, node types,
messages, outputs. Those expectations are the reality the local runner is held to, so the
tests built on this module copy each workflow and each assertion as the Go test states them.

Most of those workflows run ``argoproj/argosay:v2``, whose entrypoint is a small shell script
(``test/e2e/images/argosay/v2/argosay``, copied unmodified to ``data/argo-e2e/argosay``). The
local runner runs host commands, not an image's entrypoint, so a container (or script) of that
image with no command of its own is given the script as its command; nothing else changes.
"""

from __future__ import annotations

import contextlib
import copy
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]
DATA = Path(__file__).parents[1] / "data" / "argo-e2e"
ARGOSAY = DATA / "argosay"
WHALESAY_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: workflow-template-whalesay-template
  labels:
    workflows.argoproj.io/test: "true"
spec:
  entrypoint: whalesay-template
  onExit: on-exit
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
    - name: on-exit
      container:
        image: argoproj/argosay:v2
        args: ["echo", "Exit Handler"]
"""
"""Argo's ``test/e2e/smoke/workflow-template-whalesay-template.yaml``, which several tests
apply."""


def with_argosay(manifest: Manifest) -> Manifest:
    """``manifest`` with every ``argoproj/argosay`` container running the copied script."""
    manifest = copy.deepcopy(manifest)
    spec = manifest.get("spec", {})
    templates = list(spec.get("templates") or [])
    for tmpl in templates:
        bodies = [tmpl.get("container"), tmpl.get("script")]
        bodies += (tmpl.get("containerSet") or {}).get("containers", [])
        bodies += [*tmpl.get("initContainers", []), *tmpl.get("sidecars", [])]
        for body in bodies:
            if (
                body
                and str(body.get("image", "")).startswith("argoproj/argosay")
                and (not body.get("command"))
            ):
                body["command"] = ["sh", str(ARGOSAY)]
    return manifest


def e2e_workflow(text: str, kind: str = "Workflow") -> Manifest:
    """A workflow (or template, of ``kind`` unless the text names its own) as an e2e test
    writes it inline, often without apiVersion and kind."""
    manifest: Manifest = yaml.safe_load(text)
    manifest.setdefault("apiVersion", "argoproj.io/v1alpha1")
    manifest.setdefault("kind", kind)
    return with_argosay(manifest)


def e2e_template(text: str) -> Manifest:
    """A WorkflowTemplate as an e2e test writes it inline."""
    return e2e_workflow(text, kind="WorkflowTemplate")


def from_workflow_template(name: str, *, cluster_scope: bool = False) -> Manifest:
    """``common.NewWorkflowFromWorkflowTemplate(name, clusterScope)`` (workflow/common/
    convert.go): what ``SubmitWorkflowsFromWorkflowTemplates`` and ``argo submit --from``
    create."""
    label = "cluster-workflow-template" if cluster_scope else "workflow-template"
    ref: dict[str, Any] = {"name": name}
    if cluster_scope:
        ref["clusterScope"] = True
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "generateName": f"{name}-",
            "labels": {f"workflows.argoproj.io/{label}": name},
            "annotations": {},
        },
        "spec": {"workflowTemplateRef": ref},
    }


def find_display(workflow: Manifest, display_name: str) -> dict[str, Any] | None:
    """``Nodes.FindByDisplayName``: the first node with that display name, or None."""
    for node in workflow["status"]["nodes"].values():
        if node["displayName"] == display_name:
            return dict(node)
    return None


def node_by_display(workflow: Manifest, display_name: str) -> dict[str, Any]:
    """The node ``wfv1.NodeWithDisplayName`` finds (the first with that display name)."""
    node = find_display(workflow, display_name)
    if node is None:
        raise AssertionError(f"no node displayed as {display_name!r}")
    return node


def done(workflow: Manifest) -> bool:
    """``fixtures.ToBeDone`` (the completed label; nothing is archived here)."""
    labels = workflow.get("metadata", {}).get("labels") or {}
    return labels.get("workflows.argoproj.io/completed") == "true"


def wait_until(
    backend: Any, name: str, condition: Callable[[Manifest], bool], timeout: float = 60
) -> Manifest:
    """The workflow once ``condition`` holds (``WaitForWorkflow`` with a condition); as the
    fixture, an error when the workflow is done before it holds."""
    deadline = time.monotonic() + timeout
    while True:
        workflow: Manifest = backend.get(name)
        if condition(workflow):
            return workflow
        if done(workflow):
            raise AssertionError("condition never and cannot be met because the workflow is done")
        if time.monotonic() > deadline:
            phase = workflow["status"].get("phase")
            raise AssertionError(f"condition not reached; phase {phase}")
        time.sleep(0.05)


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a server on this machine answering with ``handler``: the
    stand-in for the public service (httpbin, GitHub pages) a Go test calls."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
