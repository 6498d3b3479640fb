"""results keep their numbering, their scenario's plan entry and their JSON

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 13:30:00

``drover_scenario_results`` gains what a page of results showed by looking it up per row:

- ``attempt_number`` (1, 2, 3 among its scenario's attempts in the run) and ``latest`` (the
  scenario's last attempt so far), kept by the ingest as attempts arrive;
- ``name``, ``location`` and ``tags``, copied from the run's plan (``drover_run_scenarios``)
  when the result is stored;
- ``item``: the result as a page shows it (JSON text), written with the row; None when a
  change made it stale, and for the rows already stored (a page then builds it as it reads
  the row).

Existing rows get their numbers, names, locations and tags here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "drover_scenario_results",
        sa.Column("attempt_number", sa.Integer(), server_default="1", nullable=False),
    )
    op.add_column(
        "drover_scenario_results",
        sa.Column("latest", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column("drover_scenario_results", sa.Column("name", sa.Text(), nullable=True))
    op.add_column("drover_scenario_results", sa.Column("location", sa.Text(), nullable=True))
    op.add_column("drover_scenario_results", sa.Column("tags", postgresql.JSONB(), nullable=True))
    op.add_column("drover_scenario_results", sa.Column("item", sa.Text(), nullable=True))
    op.execute(
        """
        UPDATE drover_scenario_results AS r
        SET attempt_number = n.number, latest = n.latest
        FROM (
            SELECT id,
                row_number() OVER (PARTITION BY run_id, scenario_id ORDER BY attempt) AS number,
                attempt = max(attempt) OVER (PARTITION BY run_id, scenario_id) AS latest
            FROM drover_scenario_results
        ) AS n
        WHERE r.id = n.id AND (r.attempt_number <> n.number OR r.latest <> n.latest)
        """
    )
    op.execute(
        """
        UPDATE drover_scenario_results AS r
        SET name = s.name, location = s.location, tags = s.tags
        FROM drover_run_scenarios AS s
        WHERE s.run_id = r.run_id AND s.scenario_id = r.scenario_id
        """
    )


def downgrade() -> None:
    for column in ("item", "tags", "location", "name", "latest", "attempt_number"):
        op.drop_column("drover_scenario_results", column)
