"""Starting Docker's engine and building Drover's images in the background, once per test run.

Starting the engine and building the images takes minutes on a fresh machine (apt and pip
downloads, the facade's dependencies installed in the image), seconds once the layers are
cached. So the work starts as soon as collection shows that a test needs it, and runs while
the rest of the suite does; the fixtures wait for it.

In a plain session that process does it. Under pytest-xdist every worker collects every test
but one of them runs the image tests, and which one is decided later; so the controller does
the work (:func:`pytest_xdist_node_collection_finished` in ``tests/conftest.py`` calls
:func:`start_for`), writes what came of it to the file :func:`offer_state_file` named, and
stops the engine at the end; the worker's fixture reads that file (:func:`await_state`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from docker_engine import DockerEngine, EngineUnavailable, start_engine

ROOT = Path(__file__).resolve().parents[2]
ENGINE_TESTS = "tests/images/test_images_real.py"
"""The module whose tests need the engine (the other image tests do not)."""
STATE_VARIABLE = "DROVER_TEST_IMAGES_STATE"
"""Where the controller of a distributed run writes the preparation's outcome, as JSON."""


@dataclass
class Preparation:
    engine: DockerEngine | None = None
    unavailable: str | None = None
    build_log: Path | None = None
    build_returncode: int | None = None
    build_seconds: float | None = None
    build: subprocess.Popen[bytes] | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False
    state_file: Path | None = None

    def start(self) -> None:
        threading.Thread(target=self.run, name="docker-images", daemon=True).start()

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
            if self.state_file is not None:
                self._write_state(self.state_file)
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

    def _write_state(self, path: Path) -> None:
        engine = self.engine
        state = {
            "engine": None if engine is None else [str(engine.directory), engine.base_image],
            "unavailable": self.unavailable,
            "build_log": None if self.build_log is None else str(self.build_log),
            "build_returncode": self.build_returncode,
            "build_seconds": self.build_seconds,
            "error": self.error,
        }
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(state))
        partial.replace(path)


def wants_engine(node_ids: Iterable[str]) -> bool:
    return any(node_id.startswith(f"{ENGINE_TESTS}::") for node_id in node_ids)


def offer_state_file() -> Path:
    """The controller's side, at configure: a fresh file for the outcome, named to the workers
    (started after it) in the environment."""
    state = Path(tempfile.mkdtemp(prefix="drover-tests-images-")) / "state.json"
    os.environ[STATE_VARIABLE] = str(state)
    return state


def start_for(node_ids: Iterable[str]) -> Preparation | None:
    """The controller's preparation for a distributed run, started if its tests need one."""
    state = os.environ.get(STATE_VARIABLE)
    if state is None or not wants_engine(node_ids):
        return None
    preparation = Preparation(state_file=Path(state))
    Path(state).with_suffix(".started").touch()
    preparation.start()
    return preparation


def await_state() -> Preparation | None:
    """In a worker of a distributed run, the controller's preparation once it is done (an engine
    this process does not own: the controller stops it); None where none was started."""
    state = Path(os.environ[STATE_VARIABLE])
    if not state.with_suffix(".started").exists():
        return None
    while not state.exists():
        time.sleep(0.5)
    recorded = json.loads(state.read_text())
    preparation = Preparation(
        unavailable=recorded["unavailable"],
        build_log=None if recorded["build_log"] is None else Path(recorded["build_log"]),
        build_returncode=recorded["build_returncode"],
        build_seconds=recorded["build_seconds"],
        error=recorded["error"],
    )
    if recorded["engine"] is not None:
        directory, base_image = recorded["engine"]
        preparation.engine = DockerEngine(Path(directory), base_image)
    preparation.done.set()
    return preparation
