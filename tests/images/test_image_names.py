"""Drover's image names and the build's commands (no Docker engine needed).

Defect 6 of issue 12: the default ``project.image`` was ``python:3.12-slim``, which has no
``drover-agent``, so every pod of a spec without an image failed to start its command. The
default is now Drover's own agent image, tagged with the installed version.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.compiler import CompileOptions, compile_plan
from engine.image_build import find_source, plan_image_build, prepare_context
from engine.images import agent_image, default_agent_image, facade_image, image_tag
from engine.loading import load_execution
from engine.planning import plan_execution
from engine.spec import Project

ROOT = Path(__file__).resolve().parents[2]


def test_default_project_image_is_drovers_agent_image_of_the_installed_version() -> None:
    version = metadata.version("drover")
    project = Project(name="shop", path="/srv/shop")
    assert project.image == default_agent_image() == f"drover-agent:{version}"
    assert Project(name="shop", path="/srv/shop", image="my/tests:1").image == "my/tests:1"


def test_every_pod_of_the_compiled_example_runs_the_agent_image() -> None:
    compiled = compile_plan(
        plan_execution(load_execution(ROOT / "examples/shop/execution.yaml")),
        CompileOptions(schedule=False),
    )
    images = {
        t["container"]["image"]
        for t in compiled.workflow_dict()["spec"]["templates"]
        if "container" in t
    }
    assert images == {default_agent_image()}


@pytest.mark.parametrize(
    ("version", "tag"),
    [("0.1.0", "0.1.0"), ("1.2.0+local.3", "1.2.0-local.3"), ("1.0.dev0", "1.0.dev0")],
)
def test_image_tags_are_valid_docker_tags(version: str, tag: str) -> None:
    assert image_tag(version) == tag
    assert agent_image(tag) == f"drover-agent:{tag}"
    assert facade_image(tag) == f"drover:{tag}"


def test_build_commands_are_argument_lists(tmp_path: Path) -> None:
    agent = plan_image_build("agent", tmp_path / "a", tag="t1", base_image="debian:12")
    assert agent[0].argv[1:5] == ["-m", "pip", "wheel", "--wheel-dir"]
    assert agent[1].argv == [
        "docker", "build", "--tag", "drover-agent:t1",
        "--build-arg", "BASE_IMAGE=debian:12", str(tmp_path / "a"),
    ]  # fmt: skip
    facade = plan_image_build("facade", tmp_path / "f", tag="t1", docker="/usr/bin/docker")
    assert facade[0].argv[-1] == str(tmp_path / "f" / "src")
    # The facade's wheels are built for this interpreter: its base has the same Python.
    import sys

    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert f"BASE_IMAGE=python:{python}-slim" in facade[1].argv
    # Without --base-image the agent keeps its Dockerfile's default base.
    assert not any(a.startswith("BASE_IMAGE") for a in plan_image_build("agent", tmp_path)[1].argv)


def test_build_contexts_hold_only_what_the_dockerfiles_copy(tmp_path: Path) -> None:
    source = find_source()
    prepare_context("agent", source, tmp_path / "agent")
    assert sorted(p.name for p in (tmp_path / "agent").iterdir()) == [
        "Dockerfile",
        "drover_agent",
        "wheels",
    ]
    assert (tmp_path / "agent/drover_agent/__main__.py").is_file()
    prepare_context("facade", source, tmp_path / "facade")
    copied = tmp_path / "facade/src"
    assert (copied / "pyproject.toml").is_file() and (copied / "engine/images.py").is_file()
    assert not (copied / "tests").exists() and not (copied / ".git").exists()
    assert (tmp_path / "facade/Dockerfile").read_text() == (
        source / "agent-image/facade.Dockerfile"
    ).read_text()


def test_images_build_refuses_bad_input_naming_the_option(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["images", "build", "--only", "worker"])
    assert done.exit_code == 2 and "--only" in done.output and "agent, facade" in done.output
    done = runner.invoke(app, ["images", "build", "--source", str(tmp_path)])
    assert done.exit_code == 2 and "--source" in done.output
    done = runner.invoke(app, ["images", "build", "--docker", "no-such-docker-client"])
    assert done.exit_code == 2 and "--docker" in done.output and "install Docker" in done.output


def test_images_build_shows_each_step_and_names_the_one_that_failed(tmp_path: Path) -> None:
    """A docker client that prints and fails: its lines stream out under the step's title,
    and the error names the step, its exit code and its last lines (no traceback)."""
    client = tmp_path / "docker"
    client.write_text('#!/bin/sh\necho "building $*"\necho "Step 3/9 : broken" >&2\nexit 3\n')
    client.chmod(0o755)
    done = CliRunner().invoke(
        app, ["images", "build", "--only", "agent", "--tag", "t1", "--docker", str(client)]
    )
    assert done.exit_code == 1, done.output
    assert "==> agent: wheels for the image (pip)" in done.output
    assert "==> agent: docker build drover-agent:t1" in done.output
    assert "building build --tag drover-agent:t1" in done.output
    assert "agent: docker build drover-agent:t1 failed (exit 3)" in done.output
    assert "Step 3/9 : broken" in done.output
    assert "Traceback" not in done.output
