"""``git`` input artifacts, loaded as Argo's git driver loads them (workflow/artifacts/git/git.go,
``ArtifactDriver.Load``), with the git command where Argo uses go-git:

1. clone ``repo`` (``depth`` commits deep; only ``branch`` when ``singleBranch``), with
   ``usernameSecret``/``passwordSecret`` as HTTP basic auth or ``sshPrivateKeySecret`` as the
   SSH identity (``insecureIgnoreHostKey`` skips the host key check, ``insecureSkipTLS`` the
   certificate check);
2. fetch the ``fetch`` refspecs;
3. with a ``revision``: fetch the branches, then check the revision out (a detached HEAD);
   an empty repository is kept as cloned, whatever the revision;
4. unless ``disableSubmodules``: initialise and update the submodules, recursively.

Arguments go to git as a list; nothing user-supplied is pasted into a shell string.
"""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["GitArtifactError", "load_git_artifact"]

SecretLookup = Callable[[str, str], "str | None"]


class GitArtifactError(Exception):
    """Loading the artifact failed; the text is what the node's message says after its name."""


def load_git_artifact(spec: Mapping[str, Any], target: Path, secret: SecretLookup) -> None:
    """Clone ``spec`` (an Argo ``GitArtifact``) into ``target``, which must not exist."""
    repo = str(spec.get("repo", ""))
    branch = str(spec.get("branch") or "")
    single_branch = bool(spec.get("singleBranch"))
    if single_branch and not branch:
        raise GitArtifactError("single branch mode without a branch specified")
    depth = int(spec.get("depth") or 0)
    with _credentials(spec, secret) as (options, env):

        def git(*args: str, cwd: Path | None = None, what: str) -> None:
            done = subprocess.run(
                ["git", *options, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                lines = (done.stderr or done.stdout).strip().splitlines()
                raise GitArtifactError(f"{what}: {lines[-1] if lines else 'git failed'}")

        clone = ["clone", "--quiet"]
        if depth:
            clone += ["--depth", str(depth)]
            if not single_branch:  # go-git fetches every branch at that depth
                clone.append("--no-single-branch")
        if single_branch:
            clone += ["--single-branch", "--branch", branch]
        git(*clone, "--", repo, str(target), what=f'failed to clone "{repo}"')
        if _is_empty(target, env):  # Argo keeps an empty repository as cloned, and stops there
            return
        refspecs = [str(refspec) for refspec in spec.get("fetch") or []]
        if refspecs:
            deepen = ["--depth", str(depth)] if depth else []
            git("fetch", "--quiet", "--update-head-ok", *deepen, "origin", *refspecs,
                cwd=target, what=f"failed to fetch {_go_list(refspecs)}")  # fmt: skip
        revision = str(spec.get("revision") or "")
        if revision:
            heads = (
                [f"refs/heads/{branch}:refs/heads/{branch}"]
                if single_branch
                else ["refs/heads/*:refs/heads/*"]
            )
            git("fetch", "--quiet", "--update-head-ok", "origin", *heads,
                cwd=target, what=f"failed to fetch {_go_list(heads)}")  # fmt: skip
            git("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach",
                f"{revision}^{{commit}}", "--",
                cwd=target, what=f'failed to checkout "{revision}"')  # fmt: skip
        if not spec.get("disableSubmodules"):
            git("submodule", "--quiet", "update", "--init", "--recursive",
                cwd=target, what="failed to update submodules")  # fmt: skip


@contextmanager
def _credentials(
    spec: Mapping[str, Any], secret: SecretLookup
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """git's options and environment for the artifact's credentials, for as long as the clone
    lasts (an SSH key goes to a private file, removed after)."""
    options: list[str] = []
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if spec.get("insecureSkipTLS"):
        options += ["-c", "http.sslVerify=false"]
    key = _secret_value(spec, "sshPrivateKeySecret", secret)
    username = _secret_value(spec, "usernameSecret", secret)
    password = _secret_value(spec, "passwordSecret", secret)
    if key is None and (username or password):
        token = base64.b64encode(f"{username or ''}:{password or ''}".encode()).decode()
        options += ["-c", f"http.extraHeader=Authorization: Basic {token}"]
    if key is None:
        yield options, env
        return
    with tempfile.TemporaryDirectory(prefix="drover-git-") as scratch:
        identity = Path(scratch) / "id"
        identity.write_text(key if key.endswith("\n") else key + "\n")
        identity.chmod(0o600)
        ssh = ["ssh", "-i", str(identity), "-o", "IdentitiesOnly=yes"]
        if spec.get("insecureIgnoreHostKey"):
            ssh += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        yield options, env


def _is_empty(clone: Path, env: Mapping[str, str]) -> bool:
    """A clone of a repository without commits (go-git's ``ErrEmptyRemoteRepository``)."""
    head = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
        cwd=clone, env=dict(env), stdin=subprocess.DEVNULL, capture_output=True, check=False,
    )  # fmt: skip
    return head.returncode != 0


def _secret_value(spec: Mapping[str, Any], field: str, secret: SecretLookup) -> str | None:
    ref = spec.get(field)
    if not ref:
        return None
    value = secret(str(ref.get("name", "")), str(ref.get("key", "")))
    if value is None:
        raise GitArtifactError(
            f"{field}: Secret '{ref.get('name')}' key '{ref.get('key')}' not found"
        )
    return value


def _go_list(items: Sequence[str]) -> str:
    """A slice as Go's %v prints it."""
    return "[" + " ".join(items) + "]"
