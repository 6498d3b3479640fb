"""pipelines: stored pipelines with version history, their runs and per-job state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:42:53.349901

Four tables, all ``drover_``: ``pipelines`` (+ ``pipeline_versions``), ``pipeline_runs`` and
``pipeline_run_jobs`` (one row per job of a run, unique by run and job name).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drover_pipelines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", postgresql.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drover_pipelines")),
        sa.UniqueConstraint("name", name=op.f("uq_drover_pipelines_name")),
    )
    op.create_table(
        "drover_pipeline_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=True),
        sa.Column("pipeline_name", sa.String(length=200), nullable=False),
        sa.Column("pipeline_version", sa.Integer(), nullable=True),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("workflow_name", sa.String(length=253), nullable=False),
        sa.Column("workflow_uid", sa.String(length=64), nullable=True),
        sa.Column("parameters", postgresql.JSONB(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("manifest", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["drover_pipelines.id"],
            name=op.f("fk_drover_pipeline_runs_pipeline_id_drover_pipelines"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drover_pipeline_runs")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_drover_pipeline_runs_idempotency_key")
        ),
        sa.UniqueConstraint("workflow_name", name=op.f("uq_drover_pipeline_runs_workflow_name")),
    )
    op.create_index(
        op.f("ix_drover_pipeline_runs_phase_created_at"),
        "drover_pipeline_runs",
        ["phase", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_drover_pipeline_runs_pipeline_id_created_at"),
        "drover_pipeline_runs",
        ["pipeline_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "drover_pipeline_versions",
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["drover_pipelines.id"],
            name=op.f("fk_drover_pipeline_versions_pipeline_id_drover_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pipeline_id", "version", name=op.f("pk_drover_pipeline_versions")),
    )
    op.create_table(
        "drover_pipeline_run_jobs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("job", sa.String(length=63), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("node_type", sa.String(length=16), nullable=True),
        sa.Column("node_id", sa.String(length=300), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("outputs", postgresql.JSONB(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("exit_code", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["drover_pipeline_runs.id"],
            name=op.f("fk_drover_pipeline_run_jobs_run_id_drover_pipeline_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "job", name=op.f("pk_drover_pipeline_run_jobs")),
    )


def downgrade() -> None:
    op.drop_table("drover_pipeline_run_jobs")
    op.drop_table("drover_pipeline_versions")
    op.drop_index(
        op.f("ix_drover_pipeline_runs_pipeline_id_created_at"), table_name="drover_pipeline_runs"
    )
    op.drop_index(
        op.f("ix_drover_pipeline_runs_phase_created_at"), table_name="drover_pipeline_runs"
    )
    op.drop_table("drover_pipeline_runs")
    op.drop_table("drover_pipelines")
