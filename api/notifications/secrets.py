"""Resolving secret references of subscriptions, in the facade only: an environment variable,
or a key of a Kubernetes Secret mounted as a volume (``<secrets_dir>/<secret>/<key>``, the
layout of a Secret volume), so the facade needs no RBAC to read Secrets over the API."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from engine.errors import SpecError
from engine.notifications.subscription import EnvRef, SecretSource

__all__ = ["SecretMissing", "SecretResolver", "describe_ref"]


class SecretMissing(SpecError):
    """A referenced secret is not available to the facade."""


def describe_ref(ref: SecretSource) -> str:
    """``env:NAME`` or ``secret:NAME/KEY``: what a reference points at, never its value."""
    if isinstance(ref, EnvRef):
        return f"env:{ref.env}"
    return f"secret:{ref.secret.name}/{ref.secret.key}"


class SecretResolver:
    def __init__(
        self,
        secrets_dir: Path | None,
        environ: Mapping[str, str] | None = None,
        *,
        holder: str = "the facade",
    ) -> None:
        self.secrets_dir = secrets_dir
        self.environ = os.environ if environ is None else environ
        self.holder = holder
        """The process whose environment and mounts these are, as errors name it."""

    def resolve(self, ref: SecretSource, field: str) -> str:
        """The secret's value; ``SecretMissing`` naming ``field`` when it is not there."""
        if isinstance(ref, EnvRef):
            value = self.environ.get(ref.env)
            if not value:
                raise SecretMissing(
                    f"{field}.env",
                    f"environment variable {ref.env} is not set in {self.holder}",
                    f"set it in {self.holder}'s environment (e.g. from a Secret with envFrom)",
                )
            return value.strip()
        where = f"{field}.secret"
        if self.secrets_dir is None:
            raise SecretMissing(
                where,
                f"no Kubernetes Secrets are mounted into {self.holder}",
                "set DROVER_SECRETS_DIR to where Secret volumes are mounted, or use env:",
            )
        path = self.secrets_dir / ref.secret.name / ref.secret.key
        try:
            return path.read_text().strip()
        except OSError:
            raise SecretMissing(
                where,
                f"key {ref.secret.key!r} of Secret {ref.secret.name!r} is not mounted "
                f"(looked for {path})",
                "mount the Secret as a volume under DROVER_SECRETS_DIR/<secret name>",
            ) from None
