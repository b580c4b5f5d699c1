"""schedule: scheduled runs, paused entries, reorder requests

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 14:31:28.945940
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paused_entries",
        sa.Column("entry", sa.String(length=100), nullable=False),
        sa.Column(
            "paused_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("entry", name=op.f("pk_paused_entries")),
    )
    op.create_table(
        "scheduled_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("entry", sa.String(length=100), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "claimed",
                "sent",
                "started",
                "succeeded",
                "failed",
                name="scheduled_run_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="claimed",
            nullable=False,
        ),
        sa.Column("by_hand", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("task_id", sa.String(length=155), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_scheduled_runs_attempts_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_runs")),
        sa.UniqueConstraint("entry", "slot", name=op.f("uq_scheduled_runs_entry_slot")),
    )
    op.create_index(
        "ix_scheduled_runs_unsent",
        "scheduled_runs",
        ["claimed_at"],
        unique=False,
        postgresql_where="sent_at IS NULL",
    )
    op.create_table(
        "reorder_requests",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=50), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("inventory_id", sa.Uuid(), nullable=True),
        sa.Column("inventory_variant_id", sa.Uuid(), nullable=True),
        sa.Column("vendor_id", sa.Uuid(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                name="reorder_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="open",
            nullable=False,
        ),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(inventory_id, inventory_variant_id) = 1",
            name=op.f("ck_reorder_requests_one_stock_row"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_reorder_requests_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["inventory_id"],
            ["inventory.id"],
            name=op.f("fk_reorder_requests_inventory_id_inventory"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inventory_variant_id"],
            ["inventory_variants.id"],
            name=op.f("fk_reorder_requests_inventory_variant_id_inventory_variants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendors.id"],
            name=op.f("fk_reorder_requests_vendor_id_vendors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reorder_requests")),
        sa.UniqueConstraint("sku", "day", name=op.f("uq_reorder_requests_sku_day")),
    )
    op.create_index(
        "ix_reorder_requests_open",
        "reorder_requests",
        ["vendor_id"],
        unique=False,
        postgresql_where="status = 'open'",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_reorder_requests_open",
        table_name="reorder_requests",
        postgresql_where="status = 'open'",
    )
    op.drop_table("reorder_requests")
    op.drop_index(
        "ix_scheduled_runs_unsent", table_name="scheduled_runs", postgresql_where="sent_at IS NULL"
    )
    op.drop_table("scheduled_runs")
    op.drop_table("paused_entries")
