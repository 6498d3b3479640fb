"""The Alembic history against a real Postgres: head matches the models exactly, and every
revision downgrades and upgrades again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from api.database import head_revision, migrate
from api.models import Base
from tests.api.conftest import postgres_url  # noqa: F401
from tests.api.test_pipelines_api import empty_database  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


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


def test_processes_migrating_a_new_database_at_once_all_succeed(
    empty_database: str,  # noqa: F811
) -> None:
    """A ``drover run`` and the local service it starts (or two runs) on a new home: each
    migrates, one after the other, and none fails on a schema the other created."""
    script = "import sys; from api.database import migrate; migrate(sys.argv[1])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, empty_database],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert [row[0] for row in version] == [head_revision()]
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

    said: list[str] = []

    @contextmanager
    def upgrading(message: str) -> Iterator[None]:  # the CLI's spinner
        said.append(message)
        yield

    monkeypatch.setattr(api.database, "migrate", counted)
    try:
        # no alembic_version table: a new database, created without a word
        api.database.migrate_if_needed(empty_database, engine, upgrading=upgrading)
        assert len(calls) == 1 and said == []
        assert "drover_runs" in inspect(engine).get_table_names()
        api.database.migrate_if_needed(empty_database, engine)  # at head: nothing to do
        assert len(calls) == 1
        real(empty_database, "0002", downgrade=True)
        # behind: upgraded, and a database with runs in it says so while it waits
        api.database.migrate_if_needed(empty_database, engine, upgrading=upgrading)
        assert len(calls) == 2
        head = api.database.head_revision()
        assert said == [
            f"upgrading the database from revision 0002 to {head} "
            "(once; with many stored results this can take minutes)"
        ]
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_0009_numbers_and_names_the_results_already_stored(
    empty_database: str,  # noqa: F811
) -> None:
    """Results stored before 0009 (attempts out of order, one scenario outside the plan) get
    the numbers, latest flags, names, locations and tags a page showed by looking them up."""
    engine = create_engine(empty_database)
    try:
        migrate(empty_database, "0008")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO drover_runs (id, execution_name, backend, phase, spec, manifest,"
                    " attempt, queue_mode, total, passed, failed, skipped, errored) VALUES"
                    " ('old', 'e', 'local', 'Succeeded', '{}', '{}', 2, false, 2, 2, 0, 0, 0)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO drover_run_scenarios (run_id, scenario_id, group_key, name,"
                    " location, tags) VALUES ('old', 'a', 'g', 'test a', 'a.py:1', '[\"smoke\"]')"
                )
            )
            for scenario, attempt in (("a", 100001), ("a", 1), ("a", 2), ("b", 1)):
                connection.execute(
                    text(
                        "INSERT INTO drover_scenario_results (run_id, scenario_id, attempt,"
                        " status, artifacts, source) VALUES ('old', :s, :a, 'passed', '[]', 'agent')"
                    ),
                    {"s": scenario, "a": attempt},
                )
        migrate(empty_database)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT scenario_id, attempt, attempt_number, latest, name, location, tags,"
                    " item FROM drover_scenario_results ORDER BY scenario_id, attempt"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("a", 1, 1, False, "test a", "a.py:1", ["smoke"], None),
            ("a", 2, 2, False, "test a", "a.py:1", ["smoke"], None),
            ("a", 100001, 3, True, "test a", "a.py:1", ["smoke"], None),
            ("b", 1, 1, True, None, None, None, None),  # outside the plan
        ]
    finally:
        engine.dispose()
