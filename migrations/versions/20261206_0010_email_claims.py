"""notifications.next_attempt_at: an email claimed by a sender, or put off after an outage

A sender claims an order's pending emails by setting `next_attempt_at` to the end of its
lease; an email the mail server could not take now gets the time of its next attempt. NULL:
never tried. The partial index serves the sweep's search for emails that are due.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.drop_index("ix_notifications_open", table_name="notifications")
    op.create_index(
        "ix_notifications_open",
        "notifications",
        ["order_id", "created_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_open", table_name="notifications")
    op.create_index(
        "ix_notifications_open",
        "notifications",
        ["status"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_column("notifications", "next_attempt_at")
