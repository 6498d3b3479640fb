"""A copied project's bytecode outlives the run's workspace: the sandbox gives pods a cache
directory that every run shares, setup-env links the workspace's ``__pycache__`` into it (one
directory per project), and the workers' pytest keeps its compiled and assert-rewritten modules
there instead of compiling them again in every worker of every run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from agent_plans import RunAgent, read_results, write_plan
from drover_agent.bytecode_cache import BYTECODE_CACHE_ENV, bytecode_env, link_bytecode_cache

from engine.backends.local import LocalBackend

TEST_MODULE = (
    "def helper():\n    return 41\n\n\ndef test_answer():\n    assert helper() + 1 == 42\n"
)
ANSWER = "tests/test_answer.py::test_answer"


def _setup(run_agent: RunAgent, plan: Path, workspace: Path, env: dict[str, str]) -> None:
    shutil.rmtree(workspace, ignore_errors=True)
    done = run_agent("setup", "--plan-dir", str(plan), "--workspace", str(workspace), env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def _run_shard(
    run_agent: RunAgent, plan: Path, workspace: Path, out: Path, env: dict[str, str]
) -> dict[str, Any]:
    done = run_agent(
        "run", "--plan-dir", str(plan), "--workspace", str(workspace), "--group", "main.all",
        "--shard", "0", "--results", str(out / "results.json"), "--report-dir", str(out / "r"),
        env=env,
    )  # fmt: skip
    [result] = read_results(out / "results.json")["results"]
    assert done.returncode == (result["status"] != "passed"), done.stdout + done.stderr
    return result


def test_a_copied_projects_rewritten_test_modules_are_kept_for_the_next_run(
    tmp_path: Path, run_agent: RunAgent
) -> None:
    source = tmp_path / "source"
    (source / "tests").mkdir(parents=True)
    (source / "tests" / "test_answer.py").write_text(TEST_MODULE)
    plan = write_plan(tmp_path / "plan", runner={}, workers={"0": [ANSWER]}, path=str(source))
    cache, workspace = tmp_path / "cache", tmp_path / "workspace"
    cache.mkdir()
    env = {BYTECODE_CACHE_ENV: str(cache), "PYTHONDONTWRITEBYTECODE": "1"}

    _setup(run_agent, plan, workspace, env)
    [project_cache] = cache.iterdir()
    assert (workspace / "tests" / "__pycache__").readlink() == project_cache / "tests"
    assert _run_shard(run_agent, plan, workspace, tmp_path / "first", env)["status"] == "passed"
    # pytest's own file of the rewritten module, in the project's cache; none in the workspace.
    [rewritten] = (project_cache / "tests").glob("test_answer.*-pytest-*.pyc")
    assert not [p for p in workspace.rglob("__pycache__") if not p.is_symlink()]

    # The next run copies the project again (modification times kept) and reads that file
    # instead of rewriting the module.
    written = rewritten.stat().st_mtime_ns
    _setup(run_agent, plan, workspace, env)
    assert _run_shard(run_agent, plan, workspace, tmp_path / "again", env)["status"] == "passed"
    assert rewritten.stat().st_mtime_ns == written

    # An edit (of another size: Python compares the size, and the modification time to the
    # second) is rewritten again, and its failure reads as a rewritten assert's does.
    (source / "tests" / "test_answer.py").write_text(
        TEST_MODULE.replace("return 41", "return 20 + 20")
    )
    _setup(run_agent, plan, workspace, env)
    edited = _run_shard(run_agent, plan, workspace, tmp_path / "edited", env)
    assert edited["status"] == "failed" and "assert (40 + 1) == 42" in edited["error"]
    assert rewritten.stat().st_mtime_ns != written

    # Without a cache, nothing is linked and PYTHONDONTWRITEBYTECODE stands.
    plain = {"PYTHONDONTWRITEBYTECODE": "1"}
    _setup(run_agent, plan, workspace, plain)
    assert _run_shard(run_agent, plan, workspace, tmp_path / "plain", plain)["status"] == "failed"
    assert not list(workspace.rglob("__pycache__"))


def test_each_project_path_has_its_own_cache_and_a_prefix_of_the_environment_stands(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {BYTECODE_CACHE_ENV: str(cache), "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/root"}
    for name in ("one", "other"):
        (tmp_path / name / "pkg").mkdir(parents=True)
        (tmp_path / name / "pkg" / "mod.py").write_text("X = 1\n")
        assert link_bytecode_cache(str(tmp_path / "src" / name), tmp_path / name, env)
    targets = {(tmp_path / n / "pkg" / "__pycache__").readlink() for n in ("one", "other")}
    assert len(targets) == 2 and all(t.is_dir() and t.is_relative_to(cache) for t in targets)

    assert bytecode_env(env, tmp_path / "one") == {BYTECODE_CACHE_ENV: str(cache), "HOME": "/root"}
    chosen = {**env, "PYTHONPYCACHEPREFIX": "/var/cache/python"}
    assert bytecode_env(chosen, tmp_path / "one") == chosen
    assert bytecode_env(env, tmp_path / "unlinked") == env
    assert not link_bytecode_cache("/src", tmp_path / "one", {"HOME": "/root"})


def _pod_writing_to_the_cache(name: str, line: str) -> dict[str, Any]:
    script = (
        f'import os; p = os.path.join(os.environ["{BYTECODE_CACHE_ENV}"], "seen"); '
        f"open(p, 'a').write({line!r} + '\\n'); print(open(p).read())"
    )
    return {
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "container": {"image": "alpine", "command": [sys.executable, "-c", script]},
                }
            ],
        },
    }


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
def test_sandboxed_pods_of_every_run_share_one_writable_cache(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "home", runtime="sandbox")
    for name in ("first", "second"):
        workflow = backend.run(_pod_writing_to_the_cache(name, name))
        assert workflow["status"]["phase"] == "Succeeded"
    assert (backend.store.bytecode_cache_dir() / "seen").read_text() == "first\nsecond\n"


def test_plain_process_pods_get_no_cache(tmp_path: Path) -> None:
    # Their workspace lies at a new path in every run: a cache would only grow.
    backend = LocalBackend(tmp_path / "home", runtime="process")
    workflow = backend.run(_pod_writing_to_the_cache("plain", "x"))
    assert workflow["status"]["phase"] == "Failed"
    assert not (backend.store.bytecode_cache_dir() / "seen").exists()
