"""run suspended: whether a run's workflow is suspended (its phase stays Running)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 05:30:00

- ``drover_runs.suspended``: the workflow's ``spec.suspend``, which Argo's ``SuspendWorkflow``
  sets and ``ResumeWorkflow`` clears (workflow/util/util.go), mirrored like its phase.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "drover_runs",
        sa.Column("suspended", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("drover_runs", "suspended")
