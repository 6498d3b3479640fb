"""Build Drover's two images (``drover images build``): the worker agent and the facade.

Each build assembles a small context directory from a Drover source checkout, fills its
``wheels/`` with pip on this machine (pytest for the agent; Drover and its dependencies for the
facade), then runs ``docker build`` on it. pip runs here, with this machine's index settings,
so the Docker build needs no package index (only apt, when the base lacks Python or git).
Every command is an argument list; its output is passed line by line to ``on_line``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.errors import DroverError, SpecError
from engine.images import agent_image, facade_image

__all__ = [
    "AGENT_PYTEST",
    "IMAGE_KINDS",
    "BuiltImage",
    "ImageBuildError",
    "ImageBuildStep",
    "ImageKind",
    "build_images",
    "find_source",
    "plan_image_build",
    "prepare_context",
]

ImageKind = Literal["agent", "facade"]
IMAGE_KINDS: tuple[ImageKind, ...] = ("agent", "facade")
AGENT_PYTEST = "pytest>=8,<9.1"
"""The pytest the agent image carries when its base has none (the dev extra's range)."""

# What a facade wheel needs from the checkout; everything else (tests, node_modules, .git)
# stays out of the copy pip builds from.
_SOURCE_IGNORE = shutil.ignore_patterns(
    ".git",
    "tests",
    "bench",
    "examples",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".venv",
)


class ImageBuildError(DroverError):
    """A step of an image build failed; the message names it and ends with its last output."""


@dataclass(frozen=True)
class ImageBuildStep:
    """One command of a build, run in the context that ``prepare_context`` filled."""

    kind: ImageKind
    title: str
    argv: list[str]


@dataclass(frozen=True)
class BuiltImage:
    kind: ImageKind
    image: str
    seconds: float
    size_bytes: int | None


def find_source(start: Path | None = None) -> Path:
    """The Drover checkout this package was installed from (editable installs), or ``start``."""
    candidate = start if start is not None else Path(__file__).resolve().parents[1]
    if (candidate / "pyproject.toml").is_file() and (
        candidate / "agent-image/Dockerfile"
    ).is_file():
        return candidate
    raise SpecError(
        "--source",
        f"{candidate} is not a Drover source checkout (no pyproject.toml and "
        "agent-image/Dockerfile)",
        "pass --source with the directory of a Drover checkout",
    )


def _python_minor() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def plan_image_build(
    kind: ImageKind,
    context: Path,
    *,
    tag: str | None = None,
    base_image: str | None = None,
    docker: str = "docker",
    python: str = sys.executable,
) -> list[ImageBuildStep]:
    """The commands that build one image from the context ``prepare_context`` fills."""
    if kind == "agent":
        image = agent_image(tag)
        wheel = [python, "-m", "pip", "wheel", "--wheel-dir", str(context / "wheels"), AGENT_PYTEST]
        base = base_image
    else:
        image = facade_image(tag)
        wheel = [python, "-m", "pip", "wheel", "--wheel-dir", str(context / "wheels")]
        wheel.append(str(context / "src"))
        # The wheels are built for this interpreter, so the image's Python must be the same.
        base = base_image or f"python:{_python_minor()}-slim"
    build = [docker, "build", "--tag", image]
    if base:
        build += ["--build-arg", f"BASE_IMAGE={base}"]
    build.append(str(context))
    return [
        ImageBuildStep(kind, f"{kind}: wheels for the image (pip)", wheel),
        ImageBuildStep(kind, f"{kind}: docker build {image}", build),
    ]


def prepare_context(kind: ImageKind, source: Path, context: Path) -> None:
    """Copy the Dockerfile and what it installs from the checkout into ``context``."""
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    agent_dir = source / "agent-image"
    if kind == "agent":
        shutil.copy2(agent_dir / "Dockerfile", context / "Dockerfile")
        shutil.copytree(
            agent_dir / "drover_agent",
            context / "drover_agent",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    else:
        shutil.copy2(agent_dir / "facade.Dockerfile", context / "Dockerfile")
        shutil.copytree(source, context / "src", ignore=_SOURCE_IGNORE)
    (context / "wheels").mkdir()
    (context / "wheels/PYTHON_VERSION").write_text(_python_minor() + "\n")


def _split_facade_wheels(context: Path) -> None:
    """Drover's own wheel to ``drover/``, a requirements file pinning the rest in ``wheels/``.

    The facade's Dockerfile installs the dependencies in a layer of their own, so a change to
    Drover's code rebuilds one small layer, not the whole environment.
    """
    wheels, own = context / "wheels", context / "drover"
    own.mkdir(exist_ok=True)
    pins = []
    for wheel in sorted(wheels.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        if name == "drover":
            wheel.rename(own / wheel.name)
        else:
            pins.append(f"{name}=={version}")
    if not any(own.glob("*.whl")):
        raise ImageBuildError(f"pip wrote no Drover wheel into {wheels}")
    (wheels / "requirements.txt").write_text("\n".join(pins) + "\n")


def _run(step: ImageBuildStep, on_line: Callable[[str], None]) -> None:
    on_line(f"==> {step.title}")
    tail: list[str] = []
    try:
        process = subprocess.Popen(
            step.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
    except OSError as error:
        raise ImageBuildError(f"{step.title}: cannot start {step.argv[0]}: {error}") from error
    assert process.stdout is not None
    with process:
        for raw in process.stdout:
            line = raw.rstrip("\n")
            on_line(line)
            tail = [*tail[-19:], line]
    if process.returncode != 0:
        last = "\n".join(tail[-10:])
        raise ImageBuildError(f"{step.title} failed (exit {process.returncode}):\n{last}")


def _image_size(docker: str, image: str) -> int | None:
    done = subprocess.run(
        [docker, "image", "inspect", "--format", "{{.Size}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    text = done.stdout.strip()
    return int(text) if done.returncode == 0 and text.isdigit() else None


def build_images(
    source: Path,
    workdir: Path,
    *,
    kinds: Sequence[ImageKind] = IMAGE_KINDS,
    tag: str | None = None,
    base_image: str | None = None,
    docker: str = "docker",
    on_line: Callable[[str], None] = lambda _line: None,
) -> list[BuiltImage]:
    """Build each image of ``kinds`` in turn; the contexts live under ``workdir``."""
    docker_path = shutil.which(docker)
    if docker_path is None:
        raise SpecError("--docker", f"{docker!r} is not an executable on PATH", "install Docker")
    built: list[BuiltImage] = []
    for kind in kinds:
        started = time.monotonic()
        context = workdir / kind
        prepare_context(kind, source, context)
        steps = plan_image_build(kind, context, tag=tag, base_image=base_image, docker=docker_path)
        for step in steps:
            _run(step, on_line)
            if kind == "facade" and step is steps[0]:
                _split_facade_wheels(context)
        image = steps[-1].argv[steps[-1].argv.index("--tag") + 1]
        built.append(
            BuiltImage(kind, image, time.monotonic() - started, _image_size(docker_path, image))
        )
    return built
