"""A pod's sandbox that could not be set up is set up again; a command that failed is not rerun.

bubblewrap binds the host's directories with the mounts under them and remounts each
read-only; a mount that goes meanwhile (Docker's overlay mounts while it builds) fails that
pod's start once. Here the failure is a bind whose source appears only after the first attempt,
with the real bubblewrap.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.backends.local.runtime import SANDBOX_STARTS, Mount, PodPlan, SandboxRuntime, run_pod

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def _plan(tmp_path: Path, argv: list[str], mounts: list[Mount] | None = None) -> PodPlan:
    pod_dir = tmp_path / "pod"
    pod_dir.mkdir(parents=True)
    return PodPlan(
        node_id="pod",
        argv=argv,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        working_dir=None,
        mounts=mounts or [],
        pod_dir=pod_dir,
        log_path=tmp_path / "pod.log",
        outputs={},
        artifact_dir=lambda name: pod_dir / "artifacts" / name,
    )


def test_a_sandbox_that_failed_to_set_up_is_set_up_again(tmp_path: Path) -> None:
    later = tmp_path / "appears-later"  # missing at the first attempt: bwrap fails to bind it
    starts: list[subprocess.Popen[bytes]] = []

    def on_start(proc: subprocess.Popen[bytes]) -> None:
        starts.append(proc)
        if len(starts) == 1:
            proc.wait()
            later.mkdir()
            (later / "data").write_text("here\n")

    plan = _plan(tmp_path, ["cat", "/data/data"], [Mount(later, "/data", read_only=True)])
    outcome = run_pod(plan, SandboxRuntime(), on_start)

    assert (outcome.exit_code, outcome.error) == (0, None)
    assert len(starts) == 2
    log = plan.log_path.read_text()
    assert "bwrap: Can't find source path" in log
    assert f"setting up the pod's sandbox failed (attempt 1 of {SANDBOX_STARTS})" in log
    assert log.endswith("here\n")


def test_a_sandbox_that_never_sets_up_fails_the_pod_after_its_last_attempt(
    tmp_path: Path,
) -> None:
    starts: list[subprocess.Popen[bytes]] = []
    plan = _plan(tmp_path, ["true"], [Mount(tmp_path / "never", "/data", read_only=True)])
    outcome = run_pod(plan, SandboxRuntime(), starts.append)

    assert outcome.exit_code == 1
    assert len(starts) == SANDBOX_STARTS
    assert plan.log_path.read_text().count("bwrap: Can't find source path") == SANDBOX_STARTS


@pytest.mark.parametrize(
    ("argv", "exit_code", "runs"),
    [
        (["sh", "-c", "echo failing >&2; exit 1"], 1, 1),
        # The emissary looks the command up before it starts it: exit code 64 (runEmissary).
        (["no-such-command-here"], 64, 0),
    ],
    ids=["the command failed", "the command is missing"],
)
def test_a_command_that_ran_or_could_not_be_found_runs_at_most_once(
    tmp_path: Path, argv: list[str], exit_code: int, runs: int
) -> None:
    starts: list[subprocess.Popen[bytes]] = []
    outcome = run_pod(_plan(tmp_path, argv), SandboxRuntime(), starts.append)

    assert outcome.exit_code == exit_code
    assert len(starts) == runs


def test_a_command_whose_interpreter_is_missing_runs_once(tmp_path: Path) -> None:
    # Found, so started; bubblewrap's execvp fails: no sandbox that failed to set up.
    script = tmp_path / "script"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    starts: list[subprocess.Popen[bytes]] = []
    plan = _plan(tmp_path, ["/data/script"], [Mount(tmp_path, "/data", read_only=True)])
    outcome = run_pod(plan, SandboxRuntime(), starts.append)

    assert outcome.exit_code == 1
    assert len(starts) == 1
    assert "bwrap: execvp /data/script" in plan.log_path.read_text()


def test_a_directory_gone_from_the_root_since_the_runtime_was_made_fails_no_pod(
    tmp_path: Path,
) -> None:
    # The runtime lives as long as the local service; the host's / is listed for each pod.
    if not os.access("/", os.W_OK):
        pytest.skip("needs to create and remove a directory in /")
    gone = Path(f"/drover-test-{secrets.token_hex(4)}")
    gone.mkdir()
    try:
        runtime = SandboxRuntime()
        runtime.command(_plan(tmp_path / "first", ["true"]))  # / listed with it
    finally:
        gone.rmdir()
    outcome = run_pod(_plan(tmp_path / "second", ["true"]), runtime, lambda proc: None)
    assert (outcome.exit_code, outcome.error) == (0, None)


def test_a_bubblewrap_too_old_to_report_the_exit_is_not_asked_to(tmp_path: Path) -> None:
    # Before 0.3.2 bubblewrap reports no exit code: every failing command would look like a
    # sandbox that never set up, and run three times.
    old = tmp_path / "bwrap-0.3.1"
    real = shutil.which("bwrap")
    old.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && { echo "bubblewrap 0.3.1"; exit 0; }\n'
        f'exec {real} "$@"\n'
    )
    old.chmod(0o755)
    starts: list[subprocess.Popen[bytes]] = []
    plan = _plan(tmp_path, ["sh", "-c", "exit 1"])
    outcome = run_pod(plan, SandboxRuntime(str(old)), starts.append)

    assert outcome.exit_code == 1
    assert len(starts) == 1
    assert "--json-status-fd" not in starts[0].args
