"""daily sales: one row per (day, dimension, key, currency), see domain/models/analytics.py

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 15:19:22.221074
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_sales",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "dimension",
            sa.Enum(
                "product",
                "category",
                "vendor",
                name="sales_dimension",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("key", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("gross", sa.BigInteger(), nullable=False),
        sa.Column("discounts", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("cancellations", sa.Integer(), nullable=False),
        sa.Column("refunds", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_daily_sales_currency_format")),
        sa.CheckConstraint(
            "cancellations >= 0", name=op.f("ck_daily_sales_cancellations_non_negative")
        ),
        sa.CheckConstraint("customers >= 0", name=op.f("ck_daily_sales_customers_non_negative")),
        sa.CheckConstraint("discounts >= 0", name=op.f("ck_daily_sales_discounts_non_negative")),
        sa.CheckConstraint("gross >= 0", name=op.f("ck_daily_sales_gross_non_negative")),
        sa.CheckConstraint(
            "net = gross - discounts", name=op.f("ck_daily_sales_net_is_gross_less_discounts")
        ),
        sa.CheckConstraint("orders >= 0", name=op.f("ck_daily_sales_orders_non_negative")),
        sa.CheckConstraint("refunded >= 0", name=op.f("ck_daily_sales_refunded_non_negative")),
        sa.CheckConstraint("refunds >= 0", name=op.f("ck_daily_sales_refunds_non_negative")),
        sa.CheckConstraint("tax >= 0", name=op.f("ck_daily_sales_tax_non_negative")),
        sa.CheckConstraint("units >= 0", name=op.f("ck_daily_sales_units_non_negative")),
        sa.PrimaryKeyConstraint("day", "dimension", "key", "currency", name=op.f("pk_daily_sales")),
    )


def downgrade() -> None:
    op.drop_table("daily_sales")
