"""How to reach the Argo Server and the Kubernetes API (from code or the environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.backends.argo.failures import RetryPolicy
from engine.errors import SpecError

__all__ = ["ArgoSettings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class ArgoSettings:
    """Connection settings of :class:`~engine.backends.argo.ArgoBackend`.

    ``kubeconfig``/``kube_context`` select the Kubernetes API for the plan ConfigMaps; without
    them the in-cluster config is used when present, else the default kubeconfig.
    """

    server: str
    """Argo Server base URL, e.g. ``https://argo.example.com/`` (a path prefix is kept)."""
    namespace: str = "default"
    token: str | None = None
    token_file: Path | None = None
    verify_tls: bool = True
    ca_bundle: Path | None = None
    kubeconfig: Path | None = None
    kube_context: str | None = None
    timeout: float = 30.0
    """Seconds for one request (streams use it for connecting only)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    resync_interval: float = 300.0
    """Seconds between full list resyncs of ``watch`` (also the server-side watch timeout)."""

    def __post_init__(self) -> None:
        if not self.server.startswith(("http://", "https://")):
            raise SpecError("argo.server", f"{self.server!r} must start with http:// or https://")
        if not self.namespace:
            raise SpecError("argo.namespace", "must not be empty")

    @property
    def base_url(self) -> str:
        """The server URL with exactly one trailing '/', so relative paths keep any prefix."""
        return self.server.rstrip("/") + "/"

    def bearer_token(self) -> str | None:
        """``Bearer <token>`` from ``token``, else ``token_file``, else ``$ARGO_TOKEN``.

        The file is read on every call, so rotated (projected) tokens are picked up.
        """
        token = self.token
        if token is None and self.token_file is not None:
            try:
                token = self.token_file.read_text(encoding="utf-8")
            except OSError as error:
                raise SpecError(
                    "argo.token_file", f"cannot read {self.token_file}: {error}"
                ) from error
        if token is None:
            token = os.environ.get("ARGO_TOKEN")
        token = (token or "").strip()
        if not token:
            return None
        return token if token.lower().startswith("bearer ") else f"Bearer {token}"

    def tls_verify(self) -> bool | str:
        """What HTTP clients take as ``verify``: False, True, or the CA bundle path."""
        if not self.verify_tls:
            return False
        return str(self.ca_bundle) if self.ca_bundle is not None else True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ArgoSettings:
        """Read ``ARGO_SERVER`` (required), ``ARGO_NAMESPACE``, ``ARGO_TOKEN``,
        ``ARGO_TOKEN_FILE``, ``ARGO_INSECURE_SKIP_VERIFY``, ``ARGO_CA_BUNDLE``, ``KUBECONFIG``,
        ``DROVER_KUBE_CONTEXT``, ``DROVER_ARGO_RESYNC_SECONDS``."""
        env = dict(os.environ if environ is None else environ)
        server = env.get("ARGO_SERVER", "")
        if not server:
            raise SpecError("ARGO_SERVER", "not set", "e.g. https://argo-server.argo:2746/")
        if "://" not in server:
            # The argo CLI takes host:port; it speaks TLS unless told ARGO_SECURE=false.
            secure = env.get("ARGO_SECURE", "true").lower() not in _FALSE
            server = f"{'https' if secure else 'http'}://{server}"
        skip_verify = env.get("ARGO_INSECURE_SKIP_VERIFY", "false").lower() in _TRUE
        resync = env.get("DROVER_ARGO_RESYNC_SECONDS")
        try:
            resync_interval = float(resync) if resync else 300.0
        except ValueError as error:
            raise SpecError("DROVER_ARGO_RESYNC_SECONDS", f"not a number: {resync!r}") from error
        return cls(
            server=server,
            namespace=env.get("ARGO_NAMESPACE") or "default",
            token=env.get("ARGO_TOKEN") or None,
            token_file=Path(env["ARGO_TOKEN_FILE"]) if env.get("ARGO_TOKEN_FILE") else None,
            verify_tls=not skip_verify,
            ca_bundle=Path(env["ARGO_CA_BUNDLE"]) if env.get("ARGO_CA_BUNDLE") else None,
            kubeconfig=Path(env["KUBECONFIG"]) if env.get("KUBECONFIG") else None,
            kube_context=env.get("DROVER_KUBE_CONTEXT") or None,
            resync_interval=resync_interval,
        )
