"""The names of Drover's own container images, tagged with the installed package's version.

``drover-agent:<version>`` is what every worker pod runs unless a project names its own image
(``project.image``); ``drover:<version>`` is the facade (``drover serve``). Both are built from
``agent-image/`` by ``drover images build`` (``engine/image_build.py``).
"""

from __future__ import annotations

import re

__all__ = [
    "AGENT_REPOSITORY",
    "DISTRIBUTION",
    "FACADE_REPOSITORY",
    "agent_image",
    "default_agent_image",
    "facade_image",
    "image_tag",
    "package_version",
]

DISTRIBUTION = "drover"
AGENT_REPOSITORY = "drover-agent"
FACADE_REPOSITORY = "drover"
_UNKNOWN_VERSION = "dev"


def package_version() -> str:
    """The installed ``drover`` distribution's version (``dev`` when run from a bare checkout)."""
    from importlib import metadata  # 12 ms: not paid by every command that reads a spec

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return _UNKNOWN_VERSION


def image_tag(version: str) -> str:
    """A Docker tag for ``version`` (only ``[A-Za-z0-9_.-]``): ``1.2+local`` → ``1.2-local``."""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", version)[:128]
    return tag if tag and tag[0] not in ".-" else f"v{tag}"[:128]


def agent_image(tag: str | None = None) -> str:
    return f"{AGENT_REPOSITORY}:{tag or image_tag(package_version())}"


def facade_image(tag: str | None = None) -> str:
    return f"{FACADE_REPOSITORY}:{tag or image_tag(package_version())}"


def default_agent_image() -> str:
    """``project.image`` when a spec names none: Drover's own agent image of this version."""
    return agent_image()
