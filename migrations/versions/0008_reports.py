"""reports and artifacts: where a result's artifacts are, and the run's merged reports

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 05:20:00

- ``drover_scenario_results.artifact_dir``: the directory of the result's artifacts (its
  ``artifacts`` are file names there), relative to its worker's kept reports;
- ``drover_runs.reports``: the index of the run's merged reports once stored (which kinds
  exist — junit, playwright, cucumber — and what could not be made);
- ``drover_runs.reports_bytes``: what the run's reports and artifacts take on disk, so
  retention can say what it freed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("drover_scenario_results", sa.Column("artifact_dir", sa.Text(), nullable=True))
    op.add_column("drover_runs", sa.Column("reports", postgresql.JSONB(), nullable=True))
    op.add_column(
        "drover_runs",
        sa.Column("reports_bytes", sa.BigInteger(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("drover_runs", "reports_bytes")
    op.drop_column("drover_runs", "reports")
    op.drop_column("drover_scenario_results", "artifact_dir")
