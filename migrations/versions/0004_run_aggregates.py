"""run aggregates: per-group and per-shard counters, a run's planned scenarios, result rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 05:00:00

So a run's detail reads O(groups + workers) rows whatever its number of results:

- ``drover_run_groups`` gains ``title`` and its scenarios' counts by the status that counts
  (``passed``, ``failed``, ``errored``, ``skipped``);
- ``drover_run_workers`` gains ``planned`` (scenarios of its shard) and ``completed`` (of those,
  with a result);
- ``drover_runs.result_rows`` counts every result row (a results page's total);
- ``drover_run_scenarios``: each planned scenario of a run with its group, shard, name,
  location and tags.

Existing runs are filled in from their stored plans and results.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COUNTS = ("passed", "failed", "errored", "skipped")


def upgrade() -> None:
    op.add_column("drover_run_groups", sa.Column("title", sa.Text(), nullable=True))
    for name in _COUNTS:
        op.add_column(
            "drover_run_groups",
            sa.Column(name, sa.Integer(), server_default="0", nullable=False),
        )
    for name in ("planned", "completed"):
        op.add_column(
            "drover_run_workers",
            sa.Column(name, sa.Integer(), server_default="0", nullable=False),
        )
    op.add_column(
        "drover_runs", sa.Column("result_rows", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_table(
        "drover_run_scenarios",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("scenario_id", sa.Text(), nullable=False),
        sa.Column("group_key", sa.String(length=400), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("tags", postgresql.JSONB(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["drover_runs.id"],
            name=op.f("fk_drover_run_scenarios_run_id_drover_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "scenario_id", name=op.f("pk_drover_run_scenarios")),
    )
    _backfill()


def _backfill() -> None:
    """Earlier runs: planned scenarios from the groups' stored shards, counters from results."""
    op.execute(
        """
        INSERT INTO drover_run_scenarios (run_id, scenario_id, group_key, shard, tags)
        SELECT g.run_id, ids.scenario_id, g.key, shard.index - 1, '[]'::jsonb
        FROM drover_run_groups AS g,
             jsonb_array_elements(g.shards) WITH ORDINALITY AS shard(ids, index),
             jsonb_array_elements_text(shard.ids) AS ids(scenario_id)
        WHERE g.planned
        ON CONFLICT DO NOTHING
        """
    )
    op.execute("UPDATE drover_run_groups SET title = name WHERE planned")
    op.execute(
        """
        UPDATE drover_run_workers AS w SET planned = jsonb_array_length(g.shards -> w.shard)
        FROM drover_run_groups AS g
        WHERE g.run_id = w.run_id AND g.key = w.group_key AND g.planned
          AND w.shard < jsonb_array_length(g.shards)
        """
    )
    op.execute(
        """
        UPDATE drover_runs AS r SET result_rows = c.n
        FROM (SELECT run_id, count(*) AS n FROM drover_scenario_results GROUP BY run_id) AS c
        WHERE c.run_id = r.id
        """
    )
    latest = """
        SELECT DISTINCT ON (r.run_id, r.scenario_id) r.run_id, r.scenario_id, r.status,
               s.group_key, s.shard
        FROM drover_scenario_results AS r
        JOIN drover_run_scenarios AS s ON s.run_id = r.run_id AND s.scenario_id = r.scenario_id
        ORDER BY r.run_id, r.scenario_id, r.attempt DESC
    """
    op.execute(
        f"""
        UPDATE drover_run_groups AS g SET
            passed = c.passed, failed = c.failed, errored = c.errored, skipped = c.skipped
        FROM (
            SELECT run_id, group_key,
                count(*) FILTER (WHERE status = 'passed') AS passed,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status NOT IN ('passed', 'failed', 'skipped')) AS errored,
                count(*) FILTER (WHERE status = 'skipped') AS skipped
            FROM ({latest}) AS l GROUP BY run_id, group_key
        ) AS c
        WHERE c.run_id = g.run_id AND c.group_key = g.key
        """
    )
    op.execute(
        f"""
        UPDATE drover_run_workers AS w SET completed = c.n
        FROM (
            SELECT run_id, group_key, shard, count(*) AS n
            FROM ({latest}) AS l WHERE shard IS NOT NULL GROUP BY run_id, group_key, shard
        ) AS c
        WHERE c.run_id = w.run_id AND c.group_key = w.group_key AND c.shard = w.shard
        """
    )


def downgrade() -> None:
    op.drop_table("drover_run_scenarios")
    op.drop_column("drover_runs", "result_rows")
    for name in ("planned", "completed"):
        op.drop_column("drover_run_workers", name)
    for name in (*_COUNTS, "title"):
        op.drop_column("drover_run_groups", name)
