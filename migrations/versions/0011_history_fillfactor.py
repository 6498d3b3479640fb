"""scenario history pages keep room for the next run's update of their rows

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 18:30:00

Every finished run updates the history row of each of its scenarios, none of whose updated
columns is indexed: with room on the row's page Postgres writes the new version there (a HOT
update, no index entry) and reclaims the old one as the page is next read, with no vacuum. On
full pages (the default fill factor, 100) every update went to another page with a new index
entry, and the embedded server, which runs only while a command needs it, seldom lives long
enough for autovacuum to clean up: packaging's 62,000 scenarios took 1.6-1.9 s to record, and
the table doubled in eight runs. At fill factor 50 the same update takes 1.0-1.2 s and the table
stays its size. Pages written before this revision keep their rows until each row's next
update moves it to a new page, so no rewrite of the table is needed here.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE drover_scenarios SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE drover_scenarios RESET (fillfactor)")
