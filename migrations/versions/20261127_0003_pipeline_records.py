"""pipeline records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 05:26:59.261168
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # order numbers: ORD-<date>-<6 chars>, drawn from this sequence (see domain.services.orders)
    op.execute("CREATE SEQUENCE order_number_seq")
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("task_id", sa.String(length=155), nullable=True),
        sa.Column("queue", sa.String(length=50), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error_type", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "replayed",
                "discarded",
                name="dead_letter_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="open",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(
        "ix_dead_letters_open",
        "dead_letters",
        ["created_at"],
        unique=False,
        postgresql_where="status = 'open'",
    )
    op.create_index(op.f("ix_dead_letters_task"), "dead_letters", ["task"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                name="notification_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notifications_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_notifications_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("order_id", "kind", name=op.f("uq_notifications_order_id_kind")),
    )
    op.create_index(
        "ix_notifications_open",
        "notifications",
        ["status"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column(
            "kwargs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "sent_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sends", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_outbox_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_order_id"), "outbox", ["order_id"], unique=False)
    op.create_index(
        "ix_outbox_unconsumed",
        "outbox",
        ["sent_at"],
        unique=False,
        postgresql_where="consumed_at IS NULL",
    )
    op.create_index(
        "uq_inventory_movements_once",
        "inventory_movements",
        ["reference_type", "reference_id", "movement_type", "inventory_id", "inventory_variant_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
        postgresql_where="reference_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index(
        "uq_inventory_movements_once",
        table_name="inventory_movements",
        postgresql_nulls_not_distinct=True,
        postgresql_where="reference_id IS NOT NULL",
    )
    op.drop_index(
        "ix_outbox_unconsumed", table_name="outbox", postgresql_where="consumed_at IS NULL"
    )
    op.drop_index(op.f("ix_outbox_order_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(
        "ix_notifications_open",
        table_name="notifications",
        postgresql_where="status = 'pending'",
    )
    op.drop_table("notifications")
    op.drop_index(op.f("ix_dead_letters_task"), table_name="dead_letters")
    op.drop_index(
        "ix_dead_letters_open", table_name="dead_letters", postgresql_where="status = 'open'"
    )
    op.drop_table("dead_letters")
    op.execute("DROP SEQUENCE order_number_seq")
