"""Pods find Drover's own installation wherever it lives, keep short temp paths, and keep the
runtime their run was started with."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engine.backends.local import LocalBackend

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def _one_pod(name: str, command: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "alpine", "command": command}}],
        },
    }


def _venv_under_tmp(tmp_path: Path) -> Path:
    """A virtual environment under /tmp that sees this one's packages, with its own
    ``drover-agent`` script (as pip writes console scripts: a shebang to the venv's python)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site_packages] = venv.glob("lib/python*/site-packages")
    (site_packages / "drover-test-parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    agent = venv / "bin" / "drover-agent"
    agent.write_text(f"#!{venv}/bin/python\nimport sys\nprint('agent from', sys.prefix)\n")
    agent.chmod(0o755)
    return venv


def _run_with(
    venv: Path, home: Path, manifest: dict[str, Any], runtime: str, *, cwd: str | None = None
) -> str:
    """Run ``manifest`` from ``venv``'s interpreter, not activated and not on PATH; ``cwd``
    is also put first on ``sys.path``, as ``python -m`` started there does."""
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path[:0] = [{cwd!r}] if {cwd!r} else []
        from pathlib import Path
        from engine.backends.local import LocalBackend
        workflow = LocalBackend(Path({str(home)!r}), runtime={runtime!r}).run(json.loads(sys.argv[1]))
        print(workflow["status"]["phase"])
        """
    )
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "DROVER_LOCAL_RUNTIME")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, json.dumps(manifest)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("runtime", [pytest.param("sandbox", marks=needs_bwrap), "process"])
def test_drover_agent_runs_from_an_unactivated_venv_under_tmp(tmp_path: Path, runtime: str) -> None:
    if not str(tmp_path).startswith("/tmp/"):
        pytest.skip("pytest's temporary directory is not under /tmp here")
    venv = _venv_under_tmp(tmp_path)
    home = tmp_path / "home"
    phase = _run_with(venv, home, _one_pod("agent-here", ["drover-agent"]), runtime)
    assert phase == "Succeeded"
    logs = list((home / "local" / "workflows" / "agent-here" / "logs").glob("*.log"))
    assert any(f"agent from {venv}" in log.read_text() for log in logs)


@needs_bwrap
def test_a_runner_started_in_tmp_still_shows_pods_its_venv_under_tmp(tmp_path: Path) -> None:
    # /tmp on the runner's sys.path is no part of the installation to show (the pod has a
    # private /tmp), but the venv inside it is.
    if not str(tmp_path).startswith("/tmp/"):
        pytest.skip("pytest's temporary directory is not under /tmp here")
    venv = _venv_under_tmp(tmp_path)
    home = tmp_path / "home"
    manifest = _one_pod("agent-from-tmp", ["drover-agent"])
    assert _run_with(venv, home, manifest, "sandbox", cwd="/tmp") == "Succeeded"


def test_process_pods_get_a_temp_dir_short_enough_for_unix_sockets(tmp_path: Path) -> None:
    # A DROVER_HOME deep enough that its pod directories alone exceed a socket path's 107 bytes.
    home = tmp_path / ("a-very-long-drover-home-directory-name-" * 4) / "home"
    bind = (
        "import os, socket, tempfile; "
        "s = socket.socket(socket.AF_UNIX); "
        "s.bind(os.path.join(tempfile.mkdtemp(), 'SingletonSocket')); "
        "print('bound', tempfile.gettempdir())"
    )
    workflow = LocalBackend(home, runtime="process").run(
        _one_pod("socket", [sys.executable, "-c", bind])
    )
    assert workflow["status"]["phase"] == "Succeeded"
    [node] = workflow["status"]["nodes"].values()
    log = LocalBackend(home).store.log_path("socket", node["id"]).read_text()
    assert "bound /tmp/drover-" in log
    link = Path(log.split("bound ", 1)[1].split()[0])
    assert not link.exists() and not link.is_symlink()  # removed with the pod


def test_retry_and_resubmit_keep_the_runtime_the_run_started_with(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flag = tmp_path / "flag"
    # The pod reports which runtime runs it: the process runtime rewrites TMPDIR to a host link.
    manifest = _one_pod("keeps-runtime", ["sh", "-c", f'echo "tmp=$TMPDIR"; test -e {flag}'])
    started = LocalBackend(home, runtime="process").run(manifest)
    assert started["status"]["phase"] == "Failed"
    flag.touch()
    default = LocalBackend(home)  # as the API's backend: no runtime chosen
    default.retry("keeps-runtime", wait=True)
    resubmitted = default.resubmit("keeps-runtime", wait=True)
    for name in ("keeps-runtime", resubmitted):
        workflow = default.get(name)
        assert workflow["status"]["phase"] == "Succeeded"
        assert default.store.runtime_path(name).read_text() == "process"
        logs = "".join(p.read_text() for p in default.store.workflow_dir(name).glob("logs/*.log"))
        assert "tmp=/tmp/drover-" in logs
