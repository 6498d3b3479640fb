"""Fixtures of the image tests: a Docker engine and Drover's two images, really built.

The work starts in the background as soon as collection shows that a test needs it (see
preparation.py); the fixtures wait for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from docker_engine import DockerEngine
from preparation import ENGINE_TESTS, STATE_VARIABLE, Preparation, await_state, wants_engine

from engine.images import agent_image, facade_image

_preparation: Preparation | None = None
_DISTRIBUTED = "PYTEST_XDIST_WORKER" in os.environ and STATE_VARIABLE in os.environ


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: start only for tests that will run
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    global _preparation
    if _DISTRIBUTED:  # the controller prepares for its workers
        return
    if _preparation is None and wants_engine(item.nodeid for item in items):
        _preparation = Preparation()
        _preparation.start()


def pytest_sessionfinish() -> None:
    if _preparation is not None and not _DISTRIBUTED:
        _preparation.cancel()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    global _preparation
    if _DISTRIBUTED and _preparation is None:
        _preparation = await_state()
    if _preparation is None:  # a test asked for it without collection seeing it
        pytest.skip(f"the Docker engine is started only for the tests of {ENGINE_TESTS}")
    _preparation.wait()
    if _preparation.unavailable:
        pytest.skip(_preparation.unavailable)
    if _preparation.engine is None:
        pytest.fail(f"starting the Docker engine failed: {_preparation.error}")
    yield _preparation.engine


@pytest.fixture(scope="session")
def built_images(docker_engine: DockerEngine) -> dict[str, str]:
    """``drover images build`` ran once (its whole output is in the failure message)."""
    assert _preparation is not None
    if _preparation.build_returncode != 0:
        log = _preparation.build_log.read_text(errors="replace") if _preparation.build_log else ""
        pytest.fail(
            f"drover images build exited {_preparation.build_returncode}: "
            f"{_preparation.error or ''}\n{log[-4000:]}"
        )
    return {"agent": agent_image(), "facade": facade_image()}
