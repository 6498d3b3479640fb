"""``ArgoBackend``: Drover's executor on a real cluster (Argo Server + Kubernetes API).

Creation goes through Hera's ``WorkflowsService`` (with the plan ConfigMaps created first and
owned by the Workflow afterwards); actions too. Reads, the watch, logs, crons and templates use
the REST API directly (:mod:`.server`), so workflows stay plain dicts and streams are streamed.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

from hera.workflows import models as m

from engine.backends.argo.argo_objects import CronWorkflows, WorkflowTemplates, check_name
from engine.backends.argo.hera_client import HeraClient, to_hera_workflow
from engine.backends.argo.kube import KubeObjects, owner_reference
from engine.backends.argo.logs import parse_log_lines
from engine.backends.argo.pod_names import pod_name
from engine.backends.argo.server import ArgoServer
from engine.backends.argo.settings import ArgoSettings
from engine.backends.argo.status_codec import inflate_status, needs_hydration
from engine.backends.argo.watch import COUNTED_PAGES, PAGE_SIZE, WorkflowWatcher, label_selector
from engine.backends.base import LogLine
from engine.backends.node_query import pods_named
from engine.errors import BackendError, Conflict, NotFound, SpecError
from engine.labels import LABEL_MANAGED_BY

__all__ = ["DROVER_LABELS", "ArgoBackend"]

log = logging.getLogger(__name__)

DROVER_LABELS = {LABEL_MANAGED_BY: "drover"}
"""What ``list`` and ``watch`` select when given no labels (pass ``{}`` for everything)."""


def _dump(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


class ArgoBackend:
    """Runs compiled workflows on an Argo Server.

    >>> backend = ArgoBackend(ArgoSettings.from_env())         # doctest: +SKIP
    >>> workflow, configmaps = compiled.workflow_dict(), compiled.configmaps  # doctest: +SKIP
    >>> name = backend.submit(workflow, objects=configmaps)  # doctest: +SKIP
    >>> for event in backend.watch(): ...                        # doctest: +SKIP
    """

    kind = "argo"

    def __init__(
        self,
        settings: ArgoSettings,
        *,
        kube: KubeObjects | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        ui_base: str | None = None,
    ) -> None:
        """``ui_base``: the Argo UI as people reach it (default: the Argo Server URL).
        ``sleep``: how to pause between retries (default: ``time.sleep``; a watch's pauses wait
        on its stop)."""
        self.settings = settings
        self.ui_base = (ui_base or settings.server).rstrip("/")
        self.namespace = settings.namespace
        self.server = ArgoServer(settings, sleep=sleep or time.sleep)
        self.hera = HeraClient(settings)
        self.crons = CronWorkflows(self.server, self.namespace)
        self.templates = WorkflowTemplates(self.server, self.namespace)
        self._kube = kube
        self._clock = clock
        self._sleep = sleep

    def close(self) -> None:
        self.server.close()
        self.hera.close()
        if self._kube is not None:
            self._kube.close()

    def __enter__(self) -> ArgoBackend:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def kube(self) -> KubeObjects:
        """The Kubernetes client, set up on first use (only submissions with objects need it)."""
        if self._kube is None:
            self._kube = KubeObjects(self.settings)
        return self._kube

    # ------------------------------------------------------------------ submission

    def _manifest(self, workflow: dict[str, Any]) -> dict[str, Any]:
        if workflow.get("kind", "Workflow") != "Workflow":
            raise SpecError(
                "kind",
                f"submit takes a Workflow, got {workflow.get('kind')!r}",
                "CronWorkflows go through backend.crons.apply",
            )
        manifest = copy.deepcopy(workflow)
        manifest.setdefault("apiVersion", "argoproj.io/v1alpha1")
        manifest["kind"] = "Workflow"
        meta = manifest.setdefault("metadata", {})
        if meta.get("namespace", self.namespace) != self.namespace:
            raise SpecError(
                "metadata.namespace",
                f"is {meta['namespace']!r}, the backend uses {self.namespace!r}",
            )
        meta["namespace"] = self.namespace
        if not meta.get("name") and not meta.get("generateName"):
            raise SpecError("metadata.name", "either name or generateName is required")
        return manifest

    def _objects(self, objects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        prepared = []
        for index, obj in enumerate(objects):
            copied = copy.deepcopy(obj)
            meta = copied.setdefault("metadata", {})
            check_name(meta.get("name", ""), f"objects[{index}].metadata.name")
            if meta.get("namespace", self.namespace) != self.namespace:
                raise SpecError(
                    f"objects[{index}].metadata.namespace",
                    f"is {meta['namespace']!r}; objects must share the workflow's namespace",
                )
            meta["namespace"] = self.namespace
            prepared.append(copied)
        return prepared

    def submit(self, workflow: dict[str, Any], *, objects: Sequence[dict[str, Any]] = ()) -> str:
        """Create ``objects`` (ConfigMaps, Secrets), then the Workflow, which then owns them."""
        model = to_hera_workflow(self._manifest(workflow))
        prepared = self._objects(objects)
        created: list[dict[str, Any]] = []
        for obj in prepared:
            if self.kube.create(obj, self.namespace):
                created.append(obj)
        try:
            result = self.hera.call(
                "create workflow",
                lambda s: s.create_workflow(
                    m.WorkflowCreateRequest(namespace=self.namespace, workflow=model),
                    namespace=self.namespace,
                ),
            )
        except BackendError:
            self._remove(created)
            raise
        owner = owner_reference(_dump(result))
        self._own(prepared, owner)
        return str(owner["name"])

    def restore_objects(self, name: str, objects: Sequence[dict[str, Any]]) -> int:
        """Put back the plan ConfigMaps of workflow ``name`` that Kubernetes deleted, owned by
        its current incarnation.

        They are owned by the workflow, so they go when ttlStrategy deletes it; the archive
        keeps the workflow longer, and a retry from the archive re-creates it under the same
        name with a new uid (server/workflowarchive/archived_workflow_server.go
        ``RetryArchivedWorkflow``), a resubmit under a new name (``ResubmitArchivedWorkflow``):
        their pods would wait for the missing ConfigMaps to mount. Kubelet retries mounts, so
        the pods start once they are back. A Secret that is still there (a run's token Secret,
        whose earlier workflow still exists) is kept as it is, and owned by this one too.
        """
        owner = owner_reference(self.get(name))
        prepared = self._objects(objects)
        created = 0
        for obj in prepared:
            try:
                created += self.kube.create(obj, self.namespace)
            except Conflict:
                if obj.get("kind") != "Secret":
                    raise
        self._own(prepared, owner)
        return created

    def _own(self, objects: list[dict[str, Any]], owner: dict[str, Any]) -> None:
        for obj in objects:
            try:
                self.kube.add_owner(obj, self.namespace, owner)
            except BackendError as error:
                # The workflow runs regardless; the object just outlives it.
                log.warning("%s %s created, but %s", owner["kind"], owner["name"], error)

    def apply_cron(
        self, cron: dict[str, Any], *, objects: Sequence[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        """Create or update a CronWorkflow; ``objects`` (its plan ConfigMaps) are created first
        and owned by it. Argo makes the CronWorkflow the owner of every workflow it spawns, so
        the objects live exactly as long as the schedule and its runs."""
        prepared = self._objects(objects)
        created = [obj for obj in prepared if self.kube.create(obj, self.namespace)]
        try:
            applied = self.crons.create(cron)
        except Conflict:
            stripped = copy.deepcopy(cron)
            stripped.get("metadata", {}).pop("resourceVersion", None)
            try:
                applied = self.crons.update(stripped)
            except BackendError:
                self._remove(created)
                raise
        except BackendError:
            self._remove(created)
            raise
        self._own(prepared, owner_reference(applied, "CronWorkflow"))
        return applied

    def delete_cron(self, name: str) -> bool:
        """Delete a CronWorkflow (and, through Kubernetes, what it owns); False if none was."""
        try:
            self.crons.delete(name)
        except NotFound:
            return False
        return True

    def _remove(self, created: list[dict[str, Any]]) -> None:
        for obj in created:
            try:
                self.kube.delete(obj, self.namespace)
            except BackendError as error:
                log.warning("could not remove %s after a failed submission: %s", obj, error)

    def dry_run(self, workflow: dict[str, Any]) -> dict[str, Any]:
        """Create with ``serverDryRun``: the server validates and defaults, nothing is stored."""
        model = to_hera_workflow(self._manifest(workflow))
        result = self.hera.call(
            "dry-run create workflow",
            lambda s: s.create_workflow(
                m.WorkflowCreateRequest(
                    namespace=self.namespace, workflow=model, server_dry_run=True
                ),
                namespace=self.namespace,
            ),
        )
        return _dump(result)

    def lint(self, workflow: dict[str, Any]) -> dict[str, Any]:
        """Argo's lint (templates, references, expressions) without creating anything."""
        model = to_hera_workflow(self._manifest(workflow))
        result = self.hera.call(
            "lint workflow",
            lambda s: s.lint_workflow(
                m.WorkflowLintRequest(namespace=self.namespace, workflow=model),
                namespace=self.namespace,
            ),
        )
        return _dump(result)

    # ------------------------------------------------------------------ reading

    def _path(self, name: str, *rest: str) -> str:
        return "/".join(["api/v1/workflows", self.namespace, check_name(name), *rest])

    def get(self, name: str) -> dict[str, Any]:
        """The workflow with ``status.nodes`` decoded (or hydrated by the server)."""
        workflow: dict[str, Any] = self.server.request(
            "GET", self._path(name), what=f"get workflow {name}"
        )
        return inflate_status(workflow)

    def list(self, *, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Workflows with these labels (Drover's when None), paged, nodes decoded."""
        selector = label_selector(DROVER_LABELS if labels is None else labels)
        pages = self.server.pages(
            f"api/v1/workflows/{self.namespace}",
            what=f"list workflows in {self.namespace}",
            params={
                "listOptions.labelSelector": selector,
                "listOptions.limit": PAGE_SIZE,
                **COUNTED_PAGES,
            },
        )
        return [
            self._hydrated(inflate_status(item))
            for page in pages
            for item in page.get("items") or []
        ]

    def _hydrated(self, workflow: dict[str, Any]) -> dict[str, Any]:
        if not needs_hydration(workflow):
            return workflow
        try:
            return self.get(workflow["metadata"]["name"])
        except NotFound:
            return workflow

    def watch(self, *, labels: dict[str, str] | None = None) -> WorkflowWatcher:
        """Changes of workflows with these labels (Drover's when None), until the watcher's
        ``stop()``; see :mod:`.watch`."""
        return self.watcher(labels=labels)

    def watcher(self, *, labels: dict[str, str] | None = None) -> WorkflowWatcher:
        return WorkflowWatcher(
            self.server,
            self.namespace,
            labels=DROVER_LABELS if labels is None else labels,
            hydrate=self.get,
            resync_interval=self.settings.resync_interval,
            clock=self._clock,
            sleep=self._sleep,
        )

    def logs(
        self,
        name: str,
        *,
        node: str | None = None,
        follow: bool = False,
        container: str = "main",
    ) -> Iterator[LogLine]:
        """Lines of every pod of ``name``; ``node`` (an id, name, display name or template
        name, as the local backend takes it: :func:`~engine.backends.node_query.pods_named`)
        keeps the pods at or below that node, one after the other. The Argo Server filters by
        pod name alone (``podName``, util/logs/workflow-logger.go), and a name of no pod is an
        empty stream, so the node is looked up here. ``follow`` waits for more."""
        params: dict[str, str | bool | int | None] = {
            "logOptions.container": container,
            "logOptions.follow": True if follow else None,
            "logOptions.timestamps": True,
        }
        pods: list[str | None] = [None]
        if node is not None:
            workflow = self.get(name)
            named = pods_named((workflow.get("status") or {}).get("nodes") or {}, node)
            if not named:
                what = "no node" if named is None else "no pod at or below node"
                raise NotFound(f"{what} {node!r} in workflow {name}")
            named.sort(key=lambda n: (str(n.get("startedAt") or ""), str(n.get("name") or "")))
            pods = [pod_name(workflow, n) for n in named]
        for pod in pods:
            with self.server.stream_lines(
                self._path(name, "log"),
                what=f"read logs of {name}",
                params={**params, "podName": pod},
                read_timeout=None if follow else self.settings.timeout,
            ) as lines:
                yield from parse_log_lines(lines, workflow=name)

    def read_artifact(self, name: str, node_id: str, artifact: str) -> bytes | None:
        """An output artifact of a node, from the artifact repository through the Argo Server
        (``GET /artifact-files/{ns}/workflows/{name}/{node}/outputs/{artifact}``); None on 404.

        ``workflows``, plural: ``GetArtifactFile`` (server/artifacts/artifact_server.go) accepts
        only ``workflows`` and ``archived-workflows`` there and answers 400 to anything else,
        whatever the swagger's enum says. A node without that artifact gets a 500 (its
        ``getArtifactAndDriver`` fails), which callers take as no artifact, with a warning."""
        path = "/".join(
            [
                "artifact-files",
                self.namespace,
                "workflows",
                check_name(name),
                quote(node_id, safe=""),
                "outputs",
                quote(artifact, safe=""),
            ]
        )
        return self.server.download(path, what=f"read artifact {artifact} of {node_id}")

    def ui_url(self, name: str) -> str:
        """The workflow's page in the Argo UI."""
        return f"{self.ui_base}/workflows/{self.namespace}/{quote(name, safe='')}"

    # ------------------------------------------------------------------ actions

    def stop(
        self, name: str, *, message: str | None = None, node_field_selector: str | None = None
    ) -> None:
        """Stop: running pods are stopped, exit handlers (cleanup) still run; with
        ``node_field_selector``, only the Suspend nodes it matches fail (StopWorkflow)."""
        self.hera.call(
            f"stop workflow {name}",
            lambda s: s.stop_workflow(
                check_name(name),
                m.WorkflowStopRequest(
                    name=name,
                    namespace=self.namespace,
                    message=message,
                    node_field_selector=node_field_selector,
                ),
                namespace=self.namespace,
            ),
        )

    def terminate(self, name: str) -> None:
        """Terminate: everything stops now, exit handlers do not run."""
        self.hera.call(
            f"terminate workflow {name}",
            lambda s: s.terminate_workflow(
                check_name(name),
                m.WorkflowTerminateRequest(name=name, namespace=self.namespace),
                namespace=self.namespace,
            ),
        )

    def suspend(self, name: str) -> None:
        self.hera.call(
            f"suspend workflow {name}",
            lambda s: s.suspend_workflow(
                check_name(name),
                m.WorkflowSuspendRequest(name=name, namespace=self.namespace),
                namespace=self.namespace,
            ),
        )

    def resume(self, name: str, *, node_field_selector: str | None = None) -> None:
        self.hera.call(
            f"resume workflow {name}",
            lambda s: s.resume_workflow(
                check_name(name),
                m.WorkflowResumeRequest(
                    name=name, namespace=self.namespace, node_field_selector=node_field_selector
                ),
                namespace=self.namespace,
            ),
        )

    def retry(
        self, name: str, *, restart_successful: bool = False, node_field_selector: str | None = None
    ) -> None:
        """Rerun the failed nodes in place (same workflow).

        ``restart_successful`` with ``node_field_selector`` (e.g. ``templateName=worker``)
        reruns the matching succeeded nodes too. A workflow the cluster no longer has (deleted
        by its ttlStrategy, kept by the archive) is retried from the archive: RetryWorkflow
        reads it from there but can only update a live one (server/workflow/workflow_server.go),
        RetryArchivedWorkflow re-creates it under the same name
        (server/workflowarchive/archived_workflow_server.go).
        """
        try:
            self.hera.call(
                f"retry workflow {name}",
                lambda s: s.retry_workflow(
                    check_name(name),
                    m.WorkflowRetryRequest(
                        name=name,
                        namespace=self.namespace,
                        restart_successful=restart_successful or None,
                        node_field_selector=node_field_selector,
                    ),
                    namespace=self.namespace,
                ),
            )
        except NotFound:
            uid = (self.get(name).get("metadata") or {}).get("uid")  # from the archive
            if not uid:
                raise
            body: dict[str, Any] = {"uid": uid, "namespace": self.namespace}
            if restart_successful:
                body["restartSuccessful"] = True
            if node_field_selector:
                body["nodeFieldSelector"] = node_field_selector
            self.server.request(
                "PUT",
                f"api/v1/archived-workflows/{uid}/retry",
                what=f"retry archived workflow {name}",
                body=body,
            )

    def resubmit(self, name: str, *, memoized: bool = False) -> str:
        """A new workflow from ``name``'s spec (``memoized``: succeeded steps are reused)."""
        result = self.hera.call(
            f"resubmit workflow {name}",
            lambda s: s.resubmit_workflow(
                check_name(name),
                m.WorkflowResubmitRequest(
                    name=name, namespace=self.namespace, memoized=memoized or None
                ),
                namespace=self.namespace,
            ),
        )
        return str(_dump(result)["metadata"]["name"])

    def delete(self, name: str) -> None:
        """Delete the workflow; its plan ConfigMaps follow through their ownerReferences."""
        self.hera.call(
            f"delete workflow {name}",
            lambda s: s.delete_workflow(check_name(name), namespace=self.namespace),
        )
