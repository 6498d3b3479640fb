"""Connection settings: where the token comes from, URL forms, TLS; the package's exports."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.backends.argo as argo_package
from engine.backends.argo import ArgoSettings, RetryPolicy
from engine.errors import SpecError


def test_token_precedence_and_bearer_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGO_TOKEN", "from-env")
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert ArgoSettings("http://a/", token="Bearer explicit").bearer_token() == "Bearer explicit"
    assert ArgoSettings("http://a/", token_file=token_file).bearer_token() == "Bearer from-file"
    token_file.write_text("rotated")
    assert ArgoSettings("http://a/", token_file=token_file).bearer_token() == "Bearer rotated"
    assert ArgoSettings("http://a/").bearer_token() == "Bearer from-env"
    monkeypatch.delenv("ARGO_TOKEN")
    assert ArgoSettings("http://a/").bearer_token() is None
    with pytest.raises(SpecError, match="token_file"):
        ArgoSettings("http://a/", token_file=tmp_path / "missing").bearer_token()


def test_from_env_reads_the_argo_cli_variables(tmp_path: Path) -> None:
    settings = ArgoSettings.from_env(
        {
            "ARGO_SERVER": "argo.example.com:2746",
            "ARGO_NAMESPACE": "qa",
            "ARGO_INSECURE_SKIP_VERIFY": "true",
            "DROVER_ARGO_RESYNC_SECONDS": "60",
        }
    )
    assert settings.base_url == "https://argo.example.com:2746/"
    assert settings.namespace == "qa" and settings.resync_interval == 60.0
    assert settings.tls_verify() is False
    with_ca = ArgoSettings("https://a/prefix", ca_bundle=tmp_path / "ca.pem")
    assert with_ca.tls_verify() == str(tmp_path / "ca.pem")
    assert with_ca.base_url == "https://a/prefix/"  # a path prefix survives Hera's urljoin
    with pytest.raises(SpecError, match="ARGO_SERVER"):
        ArgoSettings.from_env({})
    with pytest.raises(SpecError, match=r"argo\.server"):
        ArgoSettings("ftp://nope")


def test_retry_policy_is_bounded() -> None:
    assert list(RetryPolicy(attempts=5, base_delay=1, max_delay=3).delays()) == [1, 2, 3, 3]
    assert RetryPolicy.is_transient(503, idempotent=False)
    assert not RetryPolicy.is_transient(504, idempotent=False)
    assert not RetryPolicy.is_transient(500, idempotent=True)


def test_exported_members_exist() -> None:
    for name in argo_package.__all__:
        assert hasattr(argo_package, name), name
