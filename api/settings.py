"""The service's settings: one pydantic-settings object shared by the app, the CLI and Alembic."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_home", "get_settings"]


def default_home() -> Path:
    """``/var/lib/drover`` as root (the Postgres user must traverse it), else ``~/.drover``."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/drover")
    return Path.home() / ".drover"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DROVER_", extra="ignore", populate_by_name=True)

    home: Path = Field(default_factory=default_home)
    """State directory: the embedded Postgres data, the local backend's workflows."""
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    """Any Postgres; unset starts the embedded server under ``home``."""
    admin_token: str | None = None
    """A bootstrap bearer token with full rights (in addition to tokens in the database)."""
    public_url: str = "http://127.0.0.1:8000"
    """How workers reach the facade (queue leases, result posts)."""
    argo_ui_url: str | None = None
    """Base URL of the Argo UI; runs link to ``{argo_ui_url}/workflows/{namespace}/{name}``."""
    namespace: str = "default"
    poll_interval: float = 0.2
    """Seconds between status reads of a local run by the mirror."""
    lease_timeout: float = 300.0
    """Seconds a leased scenario may stay unreported before it goes back to the queue."""
    retention_days: float = 30.0
    """Runs, results and logs older than this are purged by ``drover gc`` and the service."""
    gc_interval: float = 3600.0
    scheduler: bool = True
    """Run the in-process scheduler for local schedules."""

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def local_dir(self) -> Path:
        return self.home / "local"


@lru_cache
def get_settings() -> Settings:
    return Settings()
