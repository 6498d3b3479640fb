"""Drover's images, really built by ``drover images build`` and really run by Docker's engine.

The agent image runs the shop example's compiled pods (setup-env, then a worker's shard) from
the compiled plan ConfigMaps, mounted as a projected volume would mount them, and writes the
worker's results; the facade image starts ``drover serve`` (embedded Postgres, as no
DATABASE_URL is set) and answers ``/healthz``. Skipped, with the reason, where no engine can
start (see docker_engine.py).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from docker_engine import DockerEngine

from engine.compiler import CompileOptions, compile_plan
from engine.images import default_agent_image, image_tag, package_version
from engine.labels import PLAN_DIR, WORKSPACE_DIR
from engine.loading import load_execution
from engine.planning import plan_execution

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"


def _materialize(configmaps: list[dict[str, Any]], directory: Path) -> Path:
    """What a projected ConfigMap volume shows the pod: one file per key."""
    directory.mkdir(parents=True)
    for configmap in configmaps:
        for name, text in configmap.get("data", {}).items():
            (directory / name).write_text(text)
        for name, blob in configmap.get("binaryData", {}).items():
            (directory / name).write_bytes(base64.b64decode(blob))
    return directory


def _templates(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in workflow["spec"]["templates"]}


def _docker_run_argv(
    template: dict[str, Any],
    name: str,
    volumes: dict[str, Path],
    parameters: dict[str, str],
) -> list[str]:
    """``docker run`` of one compiled container template: its image, command, args and mounts."""
    container = template["container"]
    args = []
    for arg in container["args"]:
        for key, value in parameters.items():
            arg = arg.replace("{{" + key + "}}", value)
        assert "{{" not in arg, f"unresolved Argo expression in {arg!r}"
        args.append(arg)
    argv = ["run", "--name", name, "--network", "none", "--entrypoint", container["command"][0]]
    host_paths = {
        v["name"]: v["hostPath"]["path"] for v in template.get("volumes", []) if "hostPath" in v
    }
    for mount in container.get("volumeMounts", []):
        source = volumes.get(mount["name"]) or Path(host_paths[mount["name"]])
        option = ",ro" if mount.get("readOnly") else ""
        argv += ["--mount", f"type=bind,source={source},target={mount['mountPath']}{option}"]
    for env in container.get("env", []):
        if "value" in env:  # secretKeyRef values have no Secret here (optional ones)
            argv += ["--env", f"{env['name']}={env['value']}"]
    return [*argv, container["image"], *args]


def test_agent_image_runs_the_compiled_setup_and_a_shard_from_a_mounted_plan(
    docker_engine: DockerEngine, built_images: dict[str, str], tmp_path: Path
) -> None:
    execution = load_execution(SHOP / "execution.yaml")
    # The default project.image (defect 6: it used to be python:3.12-slim, without the agent).
    assert execution.project.image == default_agent_image() == built_images["agent"]
    plan = plan_execution(execution)
    compiled = compile_plan(plan, CompileOptions(schedule=False))
    workflow = compiled.workflow_dict()
    templates = _templates(workflow)
    plan_dir = _materialize(compiled.configmaps, tmp_path / "plan")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    setup = templates["setup-env"]
    worker = next(
        t for t in templates.values() if "--shard" in t.get("container", {}).get("args", [])
    )
    volumes = {_volume(setup, PLAN_DIR): plan_dir, _volume(setup, WORKSPACE_DIR): workspace}

    setup_argv = _docker_run_argv(setup, "drover-test-setup", volumes, {})
    docker_engine.docker("rm", "-f", "drover-test-setup", check=False)
    try:
        out = docker_engine.docker(*setup_argv, timeout=300)
    finally:
        logs = docker_engine.docker("logs", "drover-test-setup", check=False)
        docker_engine.docker("rm", "-f", "drover-test-setup", check=False)
    assert (workspace / "tests" / "cart").is_dir(), out + logs

    group = next(g for g in plan.groups if g.key == "purchase.checkout")
    shard = f"{group.key}/0"
    worker_argv = _docker_run_argv(
        worker, "drover-test-worker", volumes, {"inputs.parameters.shard": shard, "retries": "0"}
    )
    docker_engine.docker("rm", "-f", "drover-test-worker", check=False)
    try:
        docker_engine.docker(*worker_argv, timeout=300, check=False)
        results_path = _output_path(worker, "results")
        results_file = tmp_path / "results.json"
        docker_engine.docker("cp", f"drover-test-worker:{results_path}", str(results_file))
        state = json.loads(docker_engine.docker("inspect", "drover-test-worker"))[0]["State"]
        logs = docker_engine.docker("logs", "drover-test-worker", check=False)
    finally:
        docker_engine.docker("rm", "-f", "drover-test-worker", check=False)
    document = json.loads(results_file.read_text())
    # Its peer's pod never starts here: done with its own shard, the worker takes the peer's
    # too (work stealing does not wait for a Pending pod).
    assert [r["id"] for r in document["results"]] == [
        s.id for shard in (0, 1) for s in group.workers[shard]
    ]
    assert document["runner"] == "pytest" and document["error"] is None, logs
    statuses = {r["id"]: r["status"] for r in document["results"]}
    failing = "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros"
    assert all(s == "passed" for i, s in statuses.items() if i != failing), statuses
    # Exit 1 exactly when a scenario failed (the example fails one on purpose).
    assert state["ExitCode"] == (1 if failing in statuses else 0), logs


def _volume(template: dict[str, Any], mount_path: str) -> str:
    for mount in template["container"]["volumeMounts"]:
        if mount["mountPath"] == mount_path:
            return str(mount["name"])
    raise AssertionError(f"no volume mounted at {mount_path} in {template['name']}")


def _output_path(template: dict[str, Any], artifact: str) -> str:
    for output in template["outputs"]["artifacts"]:
        if output["name"] == artifact:
            return str(output["path"])
    raise AssertionError(f"no output artifact {artifact} in {template['name']}")


def test_facade_image_serves_healthz_as_a_non_root_user(
    docker_engine: DockerEngine, built_images: dict[str, str]
) -> None:
    image = built_images["facade"]
    config = json.loads(docker_engine.docker("image", "inspect", image))[0]["Config"]
    # argo/base/api.yaml runs it with runAsNonRoot and runAsUser 10001, args ["drover", "serve", ...]
    assert config["User"] == "10001"
    assert not config.get("Entrypoint")
    name = "drover-test-facade"
    docker_engine.docker("rm", "-f", name, check=False)
    docker_engine.docker("run", "--detach", "--name", name, "--publish", "127.0.0.1::8000", image)
    try:
        port = docker_engine.docker("port", name, "8000/tcp").split(":")[-1].strip()
        body, deadline = None, time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
                    body = json.loads(reply.read())
                    break
            except OSError:
                state = json.loads(docker_engine.docker("inspect", name))[0]["State"]
                assert state["Running"], docker_engine.docker("logs", name, check=False)
                time.sleep(1)
        assert body == {"status": "ok"}, docker_engine.docker("logs", name, check=False)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as reply:
            assert reply.status == 200
    finally:
        docker_engine.docker("rm", "-f", name, check=False)


@pytest.mark.parametrize("kind", ["agent", "facade"])
def test_images_are_tagged_with_the_installed_version(
    docker_engine: DockerEngine, built_images: dict[str, str], kind: str
) -> None:
    assert built_images[kind].endswith(f":{image_tag(package_version())}")
    docker_engine.docker("image", "inspect", built_images[kind])
