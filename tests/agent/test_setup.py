"""``drover-agent setup``: copy or clone the project, run setup commands, pack the workspace."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from agent_plans import SHOP, RunAgent, write_plan


def test_copies_the_project_and_runs_setup_commands(tmp_path: Path, run_agent: RunAgent) -> None:
    plan = write_plan(
        tmp_path / "plan",
        runner={},
        workers={"0": []},
        setup=[
            "echo one > made-by-shell.txt; echo two >> made-by-shell.txt",
            ["sh", "-c", 'printf "%s" "$1" > made-by-argv.txt', "sh", "an argument; not a command"],
        ],
    )
    workspace = tmp_path / "ws"
    done = run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (workspace / "tests" / "cart" / "test_cart.py").read_text() == (
        SHOP / "tests" / "cart" / "test_cart.py"
    ).read_text()
    assert (workspace / "made-by-shell.txt").read_text() == "one\ntwo\n"
    assert (workspace / "made-by-argv.txt").read_text() == "an argument; not a command"
    assert "setup [2/2]" in done.stdout


@pytest.mark.parametrize("inside", [True, False], ids=["workspace-inside", "workspace-beside"])
def test_the_copy_keeps_links_modes_and_times_and_leaves_out_caches_and_the_workspace_itself(
    tmp_path: Path, run_agent: RunAgent, inside: bool
) -> None:
    # The bytecode cache shared between runs holds only while each source keeps its mtime.
    # A workspace beside the project is copied by tar, one inside it file by file.
    project = tmp_path / "project"
    (project / "pkg" / "__pycache__").mkdir(parents=True)
    (project / "pkg" / "mod.py").write_text("X = 1\n")
    (project / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"stale")
    (project / ".pytest_cache").mkdir()
    (project / "link.py").symlink_to("pkg/mod.py")
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o750)
    (project / "secret.txt").write_text("s\n")
    (project / "secret.txt").chmod(0o600)
    os.utime(project / "pkg" / "mod.py", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    (project / "nested" / "ws").mkdir(parents=True)  # the workspace, inside the project
    (project / "nested" / "ws-sibling").mkdir()
    (project / "nested" / "ws-sibling" / "kept.txt").write_text("kept\n")
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": []}, path=str(project))
    workspace = project / "nested" / "ws" if inside else tmp_path / "ws"

    done = run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace))

    assert done.returncode == 0, done.stdout + done.stderr
    assert (workspace / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert (workspace / "pkg" / "mod.py").stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert stat.S_IMODE((workspace / "run.sh").stat().st_mode) == 0o750
    assert stat.S_IMODE((workspace / "secret.txt").stat().st_mode) == 0o600
    assert (workspace / "link.py").is_symlink()
    assert (workspace / "link.py").readlink() == Path("pkg/mod.py")
    assert (workspace / "nested" / "ws-sibling" / "kept.txt").read_text() == "kept\n"
    assert (workspace / "nested" / "ws").exists() is not inside  # beside: a project folder
    assert not (workspace / "pkg" / "__pycache__").exists()
    assert not (workspace / ".pytest_cache").exists()


def test_a_failing_setup_command_fails_with_its_exit_code(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    plan = write_plan(
        tmp_path / "plan",
        runner={},
        workers={"0": []},
        setup=["exit 7", "touch never.txt"],
    )
    done = run_agent("setup", "--plan-dir", str(plan), "--workspace", str(tmp_path / "ws"))
    assert done.returncode == 7
    assert "setup command 1 failed with exit code 7" in done.stderr
    assert not (tmp_path / "ws" / "never.txt").exists()


def test_clones_a_repository_at_a_ref(tmp_path: Path, run_agent: RunAgent) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(repo)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "version.txt").write_text("1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    subprocess.run([*git, "tag", "v1"], check=True)
    (repo / "version.txt").write_text("2\n")
    subprocess.run([*git, "commit", "-qam", "two"], check=True)

    for ref, expected in (("v1", "1\n"), ("HEAD", "2\n")):
        plan = write_plan(tmp_path / f"plan-{ref}", runner={}, workers={"0": []}, path=None,
                          repo=str(repo), ref=ref)  # fmt: skip
        workspace = tmp_path / f"ws-{ref}"
        done = run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace))
        assert done.returncode == 0, done.stdout + done.stderr
        assert (workspace / "version.txt").read_text() == expected


def test_pack_and_unpack_restore_the_workspace(tmp_path: Path, run_agent: RunAgent) -> None:
    plan = write_plan(
        tmp_path / "plan",
        runner={},
        workers={"0": ["tests/cart/test_cart.py::test_empty_cart_totals_zero"]},
        setup=["ln -s /usr/bin/env absolute-link"],
    )
    archive = tmp_path / "ws.tgz"
    done = run_agent(
        "setup",
        "--plan-dir",
        str(plan),
        "--workspace",
        str(tmp_path / "ws"),
        "--pack",
        str(archive),
    )
    assert done.returncode == 0, done.stderr
    restored = tmp_path / "restored"
    results = tmp_path / "results.json"
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(restored), "--unpack", str(archive),
        "--group", "main.all", "--shard", "0", "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (restored / "absolute-link").readlink() == Path("/usr/bin/env")
    assert (restored / "shop" / "cart.py").is_file()


def test_missing_plan_is_a_clear_error(tmp_path: Path, run_agent: RunAgent) -> None:
    done = run_agent("setup", "--plan-dir", str(tmp_path), "--workspace", str(tmp_path / "ws"))
    assert done.returncode == 2
    assert "run.json: no such file; is the plan ConfigMap mounted?" in done.stderr


def _repository(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(repo)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "version.txt").write_text("1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    return repo


def test_defect_5_clones_into_a_fresh_volume_holding_lost_and_found(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """Issue 12 defect 5: an ext4 volume starts with ``lost+found``; the agent refused it as a
    non-empty workspace, so every ``repo:`` project on a new PVC failed setup-env."""
    repo = _repository(tmp_path)
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": []}, path=None, repo=str(repo))
    workspace = tmp_path / "ws"
    (workspace / "lost+found").mkdir(parents=True)
    done = run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (workspace / "version.txt").read_text() == "1\n"
    assert (workspace / "lost+found").is_dir()
    status = subprocess.run(
        ["git", "-C", str(workspace), "status", "--porcelain"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert status.stdout == ""  # the ready marker is excluded, lost+found is empty
    (workspace / "stray.txt").write_text("not a clone")
    (workspace / ".git").rename(workspace / "not-git")
    refused = run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace))
    assert refused.returncode == 1
    assert "is not empty and holds no git clone" in refused.stderr


def test_defect_4_a_worker_prepares_a_workspace_setup_env_never_prepared(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    """Issue 12 defect 4: a memoized resubmit keeps setup-env Skipped but mounts a new, empty
    claim (workflow/util/util.go ``FormulateResubmitWorkflow`` renames the workflow, and the
    claim is named after it: operator.go ``createPVCs``). The compiled worker passes
    ``--prepare-if-missing``: without the ready marker it prepares the workspace itself."""
    plan = write_plan(
        tmp_path / "plan",
        runner={},
        workers={"0": ["tests/cart/test_cart.py::test_empty_cart_totals_zero"]},
        setup=["echo prepared > setup-ran.txt"],
    )
    workspace = tmp_path / "ws"
    args = ["run", "--plan-dir", str(plan), "--workspace", str(workspace), "--shard", "0",
            "--group", "main.all", "--prepare-if-missing"]  # fmt: skip
    first = run_agent(*args, "--results", str(tmp_path / "r1.json"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "was never prepared" in first.stdout
    assert (workspace / "setup-ran.txt").read_text() == "prepared\n"
    (workspace / "setup-ran.txt").unlink()
    again = run_agent(*args, "--results", str(tmp_path / "r2.json"))  # marker found: no setup
    assert again.returncode == 0, again.stdout + again.stderr
    assert not (workspace / "setup-ran.txt").exists()
