"""daily sales: the `shop` dimension and the `captured` measure, see domain/models/analytics.py

The rows written before this revision are deleted: they lack `captured` and the `shop` row,
and daily sales are derived from the orders. A day with orders and no rows is a changed day,
so the hourly rollup writes the last 35 days again on its next run, and a nightly report
rolls up the days of its chart first; older days are written again by `backroom analytics
rebuild --from DAY --to DAY`. Downgrading deletes the `shop` rows, which the narrower CHECK
would refuse.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSION = "ck_daily_sales_sales_dimension"


def upgrade() -> None:
    op.execute("DELETE FROM daily_sales")
    op.add_column(
        "daily_sales",
        sa.Column("captured", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_daily_sales_captured_non_negative"), "daily_sales", "captured >= 0"
    )
    op.drop_constraint(op.f(DIMENSION), "daily_sales", type_="check")
    op.create_check_constraint(
        op.f(DIMENSION), "daily_sales", "dimension IN ('product', 'category', 'vendor', 'shop')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM daily_sales WHERE dimension = 'shop'")
    op.drop_constraint(op.f(DIMENSION), "daily_sales", type_="check")
    op.create_check_constraint(
        op.f(DIMENSION), "daily_sales", "dimension IN ('product', 'category', 'vendor')"
    )
    op.drop_constraint(op.f("ck_daily_sales_captured_non_negative"), "daily_sales", type_="check")
    op.drop_column("daily_sales", "captured")
