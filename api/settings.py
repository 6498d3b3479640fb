"""The service's settings: one pydantic-settings object shared by the app, the CLI and Alembic."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from engine.home import default_home

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DROVER_", extra="ignore", populate_by_name=True)

    home: Path = Field(default_factory=default_home)
    """State directory: the embedded Postgres data, the local backend's workflows."""
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    """Any Postgres; unset starts the embedded server under ``home``."""
    admin_token: str | None = None
    """A bootstrap bearer token with full rights (in addition to tokens in the database)."""
    public_url: str = "http://127.0.0.1:8000"
    """How workers reach the facade (queue leases, result posts); ``drover serve`` derives it
    from its ``--host``/``--port`` unless ``DROVER_PUBLIC_URL`` sets it."""
    argo_ui_url: str | None = None
    """Base URL of the Argo UI; runs link to ``{argo_ui_url}/workflows/{namespace}/{name}``."""
    namespace: str = "default"
    """The Kubernetes namespace of Argo runs."""
    backend: Literal["local", "argo"] = "local"
    """Where new runs go: the embedded runner, or the Argo Server below."""
    argo_server: str | None = None
    """Argo Server base URL (``DROVER_ARGO_SERVER``), required with ``backend=argo``."""
    argo_token_file: Path | None = None
    """A file holding the bearer token (re-read on every request); else ``ARGO_TOKEN``."""
    argo_ca_bundle: Path | None = None
    """CA bundle that signed the Argo Server's certificate."""
    argo_verify_tls: bool = True
    kubeconfig: Path | None = Field(default=None, validation_alias="KUBECONFIG")
    """Where the Kubernetes API is (for plan ConfigMaps); unset: in-cluster config."""
    argo_controller_namespace: str = "argo"
    """Where Argo's workflow-controller runs, with its ConfigMap (``drover doctor`` reads its
    artifactRepository and links there)."""
    argo_resync_seconds: float = 300.0
    """Seconds between full resyncs of the Argo watch (and of each followed Argo run)."""
    service_account: str | None = None
    """The service account of the workflow pods of Argo runs."""
    agent_service_account: str | None = None
    """What Argo's agent runs as in pipeline runs with HTTP steps (unset: ``service_account``).
    The agent reads the Secrets of HTTP headers (a tool job's token) through the Kubernetes
    API; this keeps that right away from the job pods."""
    argo_artifact_repository: bool = True
    """Whether the Argo namespace has an artifact repository (``drover doctor`` checks). False
    compiles runs without output artifacts, which would put every worker in Error there."""
    poll_interval: float = 0.2
    """Seconds between status reads of a local run by the mirror."""
    lease_timeout: float = 300.0
    """Seconds a leased scenario may stay unreported before it goes back to the queue."""
    retention_days: float = 30.0
    """Runs, results and logs older than this are purged by ``drover gc`` and the service."""
    gc_interval: float = 3600.0
    max_body_bytes: int = 1024 * 1024
    """Largest request body (413 beyond), but for agents' result batches."""
    max_results_body_bytes: int = 16 * 1024 * 1024
    """Largest batch of results an agent may post at once."""
    scheduler: bool = True
    """Run the in-process scheduler for local schedules."""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Browser origins allowed to call the API (``DROVER_CORS_ORIGINS``, comma-separated, e.g.
    ``http://localhost:5173``; ``*`` allows any origin but then no credentials). Empty: no CORS."""
    stream_token_seconds: float = 300.0
    """How long a stream token (``POST /runs/{id}/stream-token``) opens its run's SSE streams."""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    run_page_url: str | None = None
    """Link to a run in notifications, with ``{run_id}`` and ``{kind}`` (execution or pipeline);
    default: the run's API resource under ``public_url``."""
    secrets_dir: Path | None = None
    """Where Kubernetes Secrets are mounted (``<dir>/<secret>/<key>``) for notification channels."""
    notify_worker: bool = True
    """Deliver notifications from this process (every replica may: rows are claimed)."""
    notify_poll_interval: float = 0.5
    notify_max_attempts: int = 12
    """Attempts of one delivery before it is marked failed (an open breaker's waits don't count)."""
    notify_backoff_base: float = 5.0
    notify_backoff_max: float = 600.0
    notify_rate: float = 5.0
    """Deliveries a second to one destination (a host, a Slack webhook), on average."""
    notify_burst: float = 10.0
    notify_breaker_threshold: int = 5
    """Failures in a row to one destination that open its circuit breaker."""
    notify_breaker_reset: float = 30.0
    """Seconds an open breaker waits before one probe delivery."""
    notify_timeout: float = 10.0

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def local_dir(self) -> Path:
        return self.home / "local"

    @property
    def reports_dir(self) -> Path:
        """Runs' reports and artifacts (``api.runs.report_store``)."""
        return self.home / "reports"


@lru_cache
def get_settings() -> Settings:
    return Settings()
