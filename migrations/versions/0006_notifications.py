"""notifications: run events in an outbox, subscriptions, deliveries and their attempts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 05:00:00

- ``drover_events``: the outbox; each run event is written in the transaction of the
  transition that caused it, under a unique key, so it is neither lost nor doubled;
- ``drover_notifications``: subscriptions made over the API;
- ``drover_deliveries``: one row per event and subscription, claimed with
  ``FOR UPDATE SKIP LOCKED`` by the delivery worker;
- ``drover_delivery_attempts``: the log of every attempt (status, latency, response);
- ``drover_pipeline_runs.tool_token_hash``: what a run's tool jobs authenticate with.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _created(name: str = "created_at", default: str = "now()") -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text(default), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "drover_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("dispatched", sa.Boolean(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drover_events")),
        sa.UniqueConstraint("key", name=op.f("uq_drover_events_key")),
    )
    op.create_index(op.f("ix_drover_events_dispatched_id"), "drover_events", ["dispatched", "id"])
    op.create_index(op.f("ix_drover_events_run_id"), "drover_events", ["run_id"])
    op.create_table(
        "drover_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", postgresql.JSONB(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _created(),
        _created("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drover_notifications")),
        sa.UniqueConstraint("name", name=op.f("uq_drover_notifications_name")),
    )
    op.create_table(
        "drover_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("channel", postgresql.JSONB(), nullable=False),
        sa.Column("destination", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _created("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["drover_events.id"],
            name=op.f("fk_drover_deliveries_event_id_drover_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["drover_notifications.id"],
            name=op.f("fk_drover_deliveries_subscription_id_drover_notifications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drover_deliveries")),
        sa.UniqueConstraint(
            "event_id", "source", name=op.f("uq_drover_deliveries_event_id_source")
        ),
    )
    op.create_index(
        op.f("ix_drover_deliveries_state_next_attempt_at"),
        "drover_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_drover_deliveries_subscription_id_id"),
        "drover_deliveries",
        ["subscription_id", "id"],
    )
    op.create_table(
        "drover_delivery_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _created(default="clock_timestamp()"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["drover_deliveries.id"],
            name=op.f("fk_drover_delivery_attempts_delivery_id_drover_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drover_delivery_attempts")),
    )
    op.add_column(
        "drover_pipeline_runs", sa.Column("tool_token_hash", sa.String(length=64), nullable=True)
    )
    op.create_index(
        op.f("ix_drover_delivery_attempts_delivery_id_attempt"),
        "drover_delivery_attempts",
        ["delivery_id", "attempt"],
    )


def downgrade() -> None:
    op.drop_column("drover_pipeline_runs", "tool_token_hash")
    op.drop_table("drover_delivery_attempts")
    op.drop_table("drover_deliveries")
    op.drop_table("drover_notifications")
    op.drop_table("drover_events")
