"""A real Postgres for the API suite: one embedded server per session, one database per module."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.embedded_server import embedded_url, stop_embedded
from api.settings import Settings

ADMIN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The server's URL (database ``postgres``): ``DROVER_TEST_DATABASE_URL`` or an embedded one."""
    if os.environ.get("DROVER_TEST_DATABASE_URL"):
        yield os.environ["DROVER_TEST_DATABASE_URL"]
        return
    # Under /tmp: the embedded server runs as a system user when we are root. One server per
    # session, so concurrent test sessions (CI beside a developer's run) never share one.
    base = Path(tempfile.mkdtemp(prefix="drover-test-postgres-"))
    base.chmod(0o755)
    yield embedded_url(base / "data")
    stop_embedded(base / "data")
    shutil.rmtree(base, ignore_errors=True)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    name = f"drover_test_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.replace("/postgres?", f"/{name}?", 1)
    yield url
    from api.database import dispose_engines

    dispose_engines(url)
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drover-home")


@pytest.fixture(scope="module")
def settings(database_url: str, home: Path) -> Settings:
    return Settings(
        home=home,
        database_url=database_url,
        admin_token=ADMIN,
        poll_interval=0.1,
        scheduler=False,
        public_url="http://127.0.0.1:9",
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
