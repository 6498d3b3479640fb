"""results keep what they cost a worker, and scenario history a window of those costs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:00:00

``drover_scenario_results.cost``: the seconds the worker's session spent on the result,
overhead included, where the runner measured it (pytest: its share of its file's collection
and of pytest's own hooks, which JUnit's ``time`` leaves out). ``drover_scenarios.costs``: the
latest of those per scenario, which plans prefer to durations. Both columns are added without
rewriting a row (a constant default), whatever the size of the tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("drover_scenario_results", sa.Column("cost", sa.Float(), nullable=True))
    op.add_column(
        "drover_scenarios",
        sa.Column("costs", postgresql.JSONB(), server_default="[]", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("drover_scenarios", "costs")
    op.drop_column("drover_scenario_results", "cost")
