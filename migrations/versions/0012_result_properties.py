"""results keep what each test recorded about itself (pytest's record_property)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:30:00

``drover_scenario_results.properties``: the [name, value] pairs a test recorded, which the
run's JUnit report carries as the case's ``<properties>`` (as pytest's own report does). Null
for the many results that have none; added without rewriting a row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "drover_scenario_results", sa.Column("properties", postgresql.JSONB(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("drover_scenario_results", "properties")
