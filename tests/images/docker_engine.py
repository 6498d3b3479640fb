"""A Docker engine for the image tests: Debian's dockerd started by hand, base image from Debian.

No registry is reachable on the project's machines, so nothing is pulled: the base image is a
``debootstrap --variant=minbase`` of the Debian release whose Python is this interpreter's
(the facade's wheels are built here), imported with ``docker import``. The daemon runs on its
own socket and data directory under a cache directory kept between sessions (layers and the
base image survive, so a second session builds in seconds); a session that finds the directory
locked by another one uses a private temporary directory instead. The daemon this module
starts is stopped by its pid at the end, never by name.

Whatever stops the engine from starting (not root, no dockerd, no debootstrap, no Debian
mirror) is a reason to skip, returned as text; a failing image build is a test failure.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_IMAGE = "local/drover-test-base"
# The Debian release whose python3 is this interpreter's minor version.
DEBIAN_FOR_PYTHON = {(3, 11): "bookworm", (3, 13): "trixie"}
CACHE_DIR = Path(os.environ.get("DROVER_TEST_DOCKER_DIR", "/var/tmp/drover-test-docker"))


class EngineUnavailable(Exception):
    """Why no Docker engine can run here (the tests skip with this text)."""


@dataclass
class DockerEngine:
    directory: Path
    base_image: str
    started_pid: int | None = None
    private: bool = False
    """A temporary directory of this session only (the shared cache was taken): removed at stop."""
    _lock: int | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.directory / "docker.sock"

    @property
    def env(self) -> dict[str, str]:
        """The environment of a docker client (and of ``drover images build``) for this engine."""
        environment = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}
        environment.pop("DOCKER_BUILDKIT", None)  # the Debian client has no buildx
        return environment

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        done = subprocess.run(
            ["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def stop(self) -> None:
        if self.started_pid is not None:
            try:
                os.kill(self.started_pid, signal.SIGTERM)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and _alive(self.started_pid):
                    time.sleep(0.2)
                if _alive(self.started_pid):
                    os.kill(self.started_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.started_pid = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        if self.private:
            shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _missing_tools() -> str | None:
    if sys.platform != "linux":
        return "Docker's engine is started by hand only on Linux"
    if os.geteuid() != 0:
        return "starting dockerd needs root"
    for tool, package in (
        ("dockerd", "docker.io"),
        ("docker", "docker.io"),
        ("debootstrap", "debootstrap"),
    ):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (as root on Debian, bash .ci/setup installs {package})"
    if sys.version_info[:2] not in DEBIAN_FOR_PYTHON:
        return f"no Debian release ships Python {sys.version_info[0]}.{sys.version_info[1]}"
    return None


def _claim_directory() -> tuple[Path, int, bool]:
    """The shared cache directory with its lock held, or a private one when it is taken."""
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        lock = os.open(CACHE_DIR / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return CACHE_DIR, lock, False
        except BlockingIOError:
            os.close(lock)
    except OSError:
        pass
    private = Path(tempfile.mkdtemp(prefix="drover-docker-"))
    return private, os.open(private / "lock", os.O_CREAT | os.O_RDWR, 0o600), True


def _answers(engine: DockerEngine) -> bool:
    if not engine.socket.exists():
        return False
    done = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        env=engine.env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return done.returncode == 0


def _start_daemon(engine: DockerEngine) -> None:
    if _answers(engine):  # left running by a session that was killed: same data, reuse it
        pid_file = engine.directory / "dockerd.pid"
        engine.started_pid = int(pid_file.read_text()) if pid_file.exists() else None
        return
    for stale in ("dockerd.pid", "docker.sock"):
        (engine.directory / stale).unlink(missing_ok=True)
    log = (engine.directory / "dockerd.log").open("ab")
    process = subprocess.Popen(
        [
            "dockerd",
            "--host", f"unix://{engine.socket}",
            "--data-root", str(engine.directory / "data"),
            "--exec-root", str(engine.directory / "exec"),
            "--pidfile", str(engine.directory / "dockerd.pid"),
        ],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    log.close()
    engine.started_pid = process.pid
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _answers(engine):
            return
        time.sleep(0.3)
    engine.stop()
    tail = (engine.directory / "dockerd.log").read_text(errors="replace")[-1500:]
    raise EngineUnavailable(f"dockerd did not start:\n{tail}")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.exists():
        for line in deb822.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    classic = Path("/etc/apt/sources.list")
    if classic.exists():
        for line in classic.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1]:
                return parts[1]
    return "http://deb.debian.org/debian"


def _ensure_base_image(engine: DockerEngine) -> None:
    exists = subprocess.run(
        ["docker", "image", "inspect", engine.base_image],
        env=engine.env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    if exists.returncode == 0:
        return
    suite = DEBIAN_FOR_PYTHON[sys.version_info[:2]]
    rootfs = engine.directory / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    bootstrap = subprocess.run(
        ["debootstrap", "--variant=minbase", suite, str(rootfs), debian_mirror()],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if bootstrap.returncode != 0:
        shutil.rmtree(rootfs, ignore_errors=True)
        raise EngineUnavailable(
            f"debootstrap of Debian {suite} failed (no Debian mirror reachable?):\n"
            f"{(bootstrap.stdout + bootstrap.stderr)[-1500:]}"
        )
    for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / leftovers).glob("*"):
            if item.is_file():
                item.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        ["docker", "import", "-c", 'CMD ["/bin/bash"]', "-", engine.base_image],
        stdin=tar.stdout, env=engine.env, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert tar.stdout is not None
    tar.stdout.close()
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    if imported.returncode != 0:
        raise EngineUnavailable(f"docker import of the Debian base failed: {imported.stderr}")


def start_engine() -> DockerEngine:
    """A running engine with the Debian base image, or ``EngineUnavailable`` saying why not."""
    missing = _missing_tools()
    if missing:
        raise EngineUnavailable(missing)
    directory, lock, private = _claim_directory()
    suite = DEBIAN_FOR_PYTHON[sys.version_info[:2]]
    engine = DockerEngine(directory, f"{BASE_IMAGE}:{suite}", private=private, _lock=lock)
    try:
        _start_daemon(engine)
        _ensure_base_image(engine)
    except BaseException:
        engine.stop()
        raise
    return engine
