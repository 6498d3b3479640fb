"""Secret references resolve in the facade: an environment variable, or a key of a Kubernetes
Secret mounted as a volume (``<dir>/<secret>/<key>``, the layout kubelet writes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.notifications.secrets import SecretMissing, SecretResolver, describe_ref
from engine.notifications.subscription import EnvRef, KubeSecretRef, SecretKey


def test_env_and_mounted_secret_resolve(tmp_path: Path) -> None:
    (tmp_path / "slack-hooks").mkdir()
    (tmp_path / "slack-hooks" / "nightly").write_text("https://hooks.slack.com/services/T/B/x\n")
    resolver = SecretResolver(tmp_path, environ={"SMTP_PASSWORD": "s3cret"})
    mounted = KubeSecretRef(secret=SecretKey(name="slack-hooks", key="nightly"))
    assert resolver.resolve(mounted, "channel.url_from") == "https://hooks.slack.com/services/T/B/x"
    assert resolver.resolve(EnvRef(env="SMTP_PASSWORD"), "smtp.password_from") == "s3cret"
    assert describe_ref(mounted) == "secret:slack-hooks/nightly"  # what logs may show


@pytest.mark.parametrize(
    ("ref", "secrets_dir", "field", "says"),
    [
        (EnvRef(env="MISSING"), None, "channel.url_from.env", "MISSING is not set"),
        (
            KubeSecretRef(secret=SecretKey(name="hooks", key="url")),
            None,
            "channel.url_from.secret",
            "no Kubernetes Secrets are mounted",
        ),
        (
            KubeSecretRef(secret=SecretKey(name="hooks", key="url")),
            "dir",
            "channel.url_from.secret",
            "key 'url' of Secret 'hooks' is not mounted",
        ),
    ],
)
def test_a_missing_secret_names_the_field_and_the_fix(
    tmp_path: Path, ref: EnvRef | KubeSecretRef, secrets_dir: str | None, field: str, says: str
) -> None:
    resolver = SecretResolver(tmp_path if secrets_dir else None, environ={})
    with pytest.raises(SecretMissing) as info:
        resolver.resolve(ref, "channel.url_from")
    assert info.value.path == field and says in info.value.message and info.value.hint
