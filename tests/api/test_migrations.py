"""The Alembic history against a real Postgres: head matches the models exactly, and every
revision downgrades and upgrades again."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from api.database import migrate
from api.models import Base
from tests.api.conftest import postgres_url  # noqa: F401
from tests.api.test_pipelines_api import empty_database  # noqa: F401


def test_head_matches_the_models_and_every_revision_round_trips(
    empty_database: str,  # noqa: F811
) -> None:
    engine = create_engine(empty_database)
    try:
        migrate(empty_database)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []

        migrate(empty_database, "0002", downgrade=True)
        columns = {c["name"] for c in inspect(engine).get_columns("drover_schedules")}
        assert "cron_workflow" not in columns
        assert "drover_schedule_plans" not in inspect(engine).get_table_names()
        migrate(empty_database, "base", downgrade=True)
        assert not [t for t in inspect(engine).get_table_names() if t.startswith("drover_")]

        migrate(empty_database)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_head_revision_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from api.database import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config("")).get_current_head()


def test_migrate_if_needed_migrates_a_new_or_old_database_and_skips_one_at_head(
    empty_database: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import api.database

    engine = create_engine(empty_database)
    calls: list[str] = []
    real = api.database.migrate

    def counted(url: str, *args: Any, **kwargs: Any) -> None:
        calls.append(url)
        real(url, *args, **kwargs)

    monkeypatch.setattr(api.database, "migrate", counted)
    try:
        api.database.migrate_if_needed(empty_database, engine)  # no alembic_version table
        assert len(calls) == 1
        assert "drover_runs" in inspect(engine).get_table_names()
        api.database.migrate_if_needed(empty_database, engine)  # at head: nothing to do
        assert len(calls) == 1
        real(empty_database, "0002", downgrade=True)
        api.database.migrate_if_needed(empty_database, engine)  # behind: upgraded
        assert len(calls) == 2
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        engine.dispose()
