"""The Alembic history against a real Postgres: head matches the models exactly, and every
revision downgrades and upgrades again."""

from __future__ import annotations

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
