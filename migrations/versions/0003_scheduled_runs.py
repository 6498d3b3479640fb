"""scheduled runs: schedules fired by Argo CronWorkflows, their plans, the runs they start;
schedules of pipelines

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:10:00

- ``drover_schedules`` gains ``concurrency_policy``, ``cron_workflow`` (its CronWorkflow on
  Argo) and ``from_spec`` (one of the execution's own, from its spec's ``schedule``);
- ``drover_schedule_plans`` keeps what each CronWorkflow was compiled from, by plan id;
- ``drover_schedules.pipeline_id``: a schedule starts runs of an execution or of a pipeline;
- ``drover_runs.schedule_id`` and ``drover_pipeline_runs.schedule_id`` link a run to the
  schedule that started it;
- ``drover_api_tokens.schedule_id`` scopes the token a CronWorkflow's workers carry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEDULED = (
    ("drover_runs", "SET NULL"),
    ("drover_pipeline_runs", "SET NULL"),
    ("drover_api_tokens", "CASCADE"),
)
"""Tables whose rows gain a ``schedule_id``, and what deleting the schedule does to them."""


def upgrade() -> None:
    op.add_column(
        "drover_schedules",
        sa.Column(
            "concurrency_policy", sa.String(length=8), server_default="Forbid", nullable=False
        ),
    )
    op.add_column(
        "drover_schedules", sa.Column("cron_workflow", sa.String(length=253), nullable=True)
    )
    op.add_column(
        "drover_schedules",
        sa.Column("from_spec", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "drover_schedule_plans",
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("spec", postgresql.JSONB(), nullable=False),
        sa.Column("manifest", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["drover_schedules.id"],
            name=op.f("fk_drover_schedule_plans_schedule_id_drover_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "plan_id", name=op.f("pk_drover_schedule_plans")),
    )
    op.alter_column("drover_schedules", "execution_id", existing_type=sa.Integer(), nullable=True)
    op.add_column("drover_schedules", sa.Column("pipeline_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_drover_schedules_pipeline_id_drover_pipelines"),
        "drover_schedules",
        "drover_pipelines",
        ["pipeline_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_check_constraint(
        op.f("ck_drover_schedules_one_target"),
        "drover_schedules",
        "(execution_id IS NULL) <> (pipeline_id IS NULL)",
    )
    for table, ondelete in SCHEDULED:
        op.add_column(table, sa.Column("schedule_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_schedule_id_drover_schedules"),
            table,
            "drover_schedules",
            ["schedule_id"],
            ["id"],
            ondelete=ondelete,
        )


def downgrade() -> None:
    for table, _ in SCHEDULED:
        op.drop_constraint(
            op.f(f"fk_{table}_schedule_id_drover_schedules"), table, type_="foreignkey"
        )
        op.drop_column(table, "schedule_id")
    op.drop_table("drover_schedule_plans")
    op.execute("DELETE FROM drover_schedules WHERE execution_id IS NULL")
    op.drop_constraint(op.f("ck_drover_schedules_one_target"), "drover_schedules", type_="check")
    op.drop_constraint(
        op.f("fk_drover_schedules_pipeline_id_drover_pipelines"),
        "drover_schedules",
        type_="foreignkey",
    )
    op.drop_column("drover_schedules", "pipeline_id")
    op.alter_column("drover_schedules", "execution_id", existing_type=sa.Integer(), nullable=False)
    op.drop_column("drover_schedules", "from_spec")
    op.drop_column("drover_schedules", "cron_workflow")
    op.drop_column("drover_schedules", "concurrency_policy")
