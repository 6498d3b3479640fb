"""pipeline job stages: each job row of a pipeline run names its stage

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 05:40:00

``drover_pipeline_run_jobs.stage``: the stage the job belongs to in a staged pipeline (null in a
pipeline of ``jobs`` ordered by ``needs``, and for the exit job). Earlier runs keep null.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "drover_pipeline_run_jobs", sa.Column("stage", sa.String(length=63), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("drover_pipeline_run_jobs", "stage")
