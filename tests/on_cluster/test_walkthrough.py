"""argo/README.md's walk-through says what argo/e2e.sh does (runs here, no cluster needed).

The walk-through is a user's copy of the e2e journey; these checks keep the two from drifting:
the same Argo release, the same commands at each step, and image tags that are the installed
Drover's (what ``project.image`` defaults to).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from engine.images import image_tag, package_version

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = (ROOT / "argo" / "README.md").read_text()
E2E = (ROOT / "argo" / "e2e.sh").read_text()


def test_same_argo_release() -> None:
    default = re.search(r"ARGO_VERSION=\$\{ARGO_VERSION:-(v[\d.]+)\}", E2E)
    assert default, "argo/e2e.sh sets no default ARGO_VERSION"
    assert f"releases/download/{default.group(1)}/install.yaml" in WALKTHROUGH


@pytest.mark.parametrize(
    "command",
    [
        "--auth-mode=client",
        "drover images build",
        "kubectl apply -k argo/overlays/local",
        "rollout restart deployment workflow-controller",
        "exec deploy/drover-api -- drover doctor",
        "port-forward",
        "2746",
        "8000",
        "get secret drover-api-token",
        "bundle create",
        "drover-e2e-git",
        "drover token create",
    ],
)
def test_each_step_of_e2e_is_in_the_walkthrough(command: str) -> None:
    assert command in E2E, f"argo/e2e.sh no longer runs {command!r}"
    assert command in WALKTHROUGH, f"argo/README.md's walk-through lacks {command!r}"


def test_image_tags_in_the_docs_are_the_installed_version() -> None:
    tag = image_tag(package_version())
    for path in (ROOT / "argo" / "README.md", ROOT / "README.md"):
        for image, found in re.findall(r"\b(drover(?:-agent)?):(\d[\w.+-]*)", path.read_text()):
            assert found == tag, f"{path.name} names {image}:{found}, the version is {tag}"


def test_e2e_runs_the_on_cluster_suite_and_its_marker_is_registered() -> None:
    assert "pytest -m on_cluster tests/on_cluster" in E2E
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    markers = config["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("on_cluster:") for m in markers)
