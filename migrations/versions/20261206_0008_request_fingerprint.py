"""orders.request_fingerprint: the sha256 of the request placed under an idempotency key

Orders placed before this revision keep NULL: a repeat of their key is taken as the same
request, as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("request_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "request_fingerprint")
