"""Fixtures of the image tests: a Docker engine and Drover's two images, really built.

Starting the engine and building the images takes minutes on a fresh machine (apt and pip
downloads, the facade's dependencies installed in the image), seconds once the layers are
cached. So the work starts in a background thread as soon as collection shows that a test
here needs it, and runs while the rest of the suite does; the fixtures wait for it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docker_engine import DockerEngine, EngineUnavailable, start_engine

from engine.images import agent_image, facade_image

ROOT = Path(__file__).resolve().parents[2]
_FIXTURES = {"docker_engine", "built_images"}


@dataclass
class _Preparation:
    engine: DockerEngine | None = None
    unavailable: str | None = None
    build_log: Path | None = None
    build_returncode: int | None = None
    build_seconds: float | None = None
    build: subprocess.Popen[bytes] | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False

    def run(self) -> None:
        try:
            self.engine = start_engine()
            if self.cancelled:
                return
            self.build_log = self.engine.directory / "images-build.log"
            started = time.monotonic()
            with self.build_log.open("wb") as log:
                # The real command, as a user runs it (this interpreter's Drover).
                self.build = subprocess.Popen(
                    [
                        sys.executable, "-m", "engine.cli", "images", "build",
                        "--base-image", self.engine.base_image, "--source", str(ROOT),
                    ],
                    env=self.engine.env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, cwd=ROOT,
                )  # fmt: skip
                self.build_returncode = self.build.wait()
            self.build_seconds = time.monotonic() - started
            # Earlier builds' images, now untagged, would pile up in the kept directory. Only
            # week-old ones go: the facade's dependency stage is untagged too, and it is the
            # cache that makes a rebuild take seconds.
            self.engine.docker("image", "prune", "--force", "--filter", "until=168h", check=False)
        except EngineUnavailable as reason:
            self.unavailable = f"no Docker engine can start here: {reason}"
        except Exception as error:  # reported by the fixture, not lost in the thread
            self.unavailable = None
            self.build_returncode = -1
            self.build_log = None
            self.error = repr(error)
        finally:
            self.done.set()

    def wait(self) -> None:
        self.done.wait()

    def cancel(self) -> None:
        self.cancelled = True
        if self.build is not None and self.build.poll() is None:
            self.build.terminate()
        self.done.wait(timeout=120)
        if self.engine is not None:
            self.engine.stop()


_preparation: _Preparation | None = None


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: start only for tests that will run
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    global _preparation
    here = Path(__file__).parent
    wanted = any(
        Path(str(item.fspath)).parent == here and _FIXTURES & set(getattr(item, "fixturenames", ()))
        for item in items
    )
    if wanted and _preparation is None:
        _preparation = _Preparation()
        threading.Thread(target=_preparation.run, name="docker-images", daemon=True).start()


def pytest_sessionfinish() -> None:
    if _preparation is not None:
        _preparation.cancel()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    if _preparation is None:  # a test asked for it without collection seeing it
        pytest.skip("the Docker engine is started only for tests collected from tests/images")
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
