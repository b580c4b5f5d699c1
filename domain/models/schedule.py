"""The beat's records: one row per (entry, slot) it ran, the entries an operator paused, and
the reorder requests the hourly reorder check makes.

A slot is the instant (UTC) a scheduled entry is due. Its row is the key that makes the slot
run once: the beat claims it by inserting the row (UNIQUE (entry, slot)), sends the task after
that commit, and the task marks it started, then succeeded or failed.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, check, str_enum


class RunStatus(enum.StrEnum):
    CLAIMED = "claimed"  # the beat inserted the row; the task is not sent yet
    SENT = "sent"  # the task message is with the broker
    STARTED = "started"  # a worker runs it
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ScheduledRun(Base):
    """One slot of one scheduled entry: claimed once, sent, run, with its times and error."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (
        UniqueConstraint("entry", "slot"),
        check("attempts >= 0", "attempts_non_negative"),
        Index("ix_scheduled_runs_unsent", "claimed_at", postgresql_where="sent_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    entry: Mapped[str] = mapped_column(String(100))
    task: Mapped[str] = mapped_column(String(100))
    slot: Mapped[datetime]
    status: Mapped[RunStatus] = mapped_column(
        str_enum(RunStatus, "scheduled_run_status"),
        default=RunStatus.CLAIMED,
        server_default=RunStatus.CLAIMED.value,
    )
    by_hand: Mapped[bool] = mapped_column(default=False, server_default="false")
    claimed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    task_id: Mapped[str | None] = mapped_column(String(155))
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class PausedEntry(Base):
    """A scheduled entry an operator paused: the beat claims none of its slots until resumed."""

    __tablename__ = "paused_entries"

    entry: Mapped[str] = mapped_column(String(100), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)


class ReorderStatus(enum.StrEnum):
    OPEN = "open"  # asked of the vendor, not received yet
    CLOSED = "closed"  # a restock named it


class ReorderRequest(Base):
    """A request to reorder one SKU, made at most once per SKU per shop-local day."""

    __tablename__ = "reorder_requests"
    __table_args__ = (
        UniqueConstraint("sku", "day"),
        check("quantity > 0", "quantity_positive"),
        check("num_nonnulls(inventory_id, inventory_variant_id) = 1", "one_stock_row"),
        Index("ix_reorder_requests_open", "vendor_id", postgresql_where="status = 'open'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(50))
    day: Mapped[date]  # the shop-local day of the check that made it
    inventory_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inventory.id", ondelete="CASCADE")
    )
    inventory_variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inventory_variants.id", ondelete="CASCADE")
    )
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("vendors.id", ondelete="SET NULL")
    )
    quantity: Mapped[int]
    available: Mapped[int]  # units available when the request was made
    reorder_point: Mapped[int]
    status: Mapped[ReorderStatus] = mapped_column(
        str_enum(ReorderStatus, "reorder_status"),
        default=ReorderStatus.OPEN,
        server_default=ReorderStatus.OPEN.value,
    )
    slot: Mapped[datetime]  # the scheduled slot whose check made it
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    emailed_at: Mapped[datetime | None]  # when its vendor's email listing it was sent
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(100))  # the restock's idempotency key


class ReportDelivery(Base):
    """One nightly report emailed to one recipient: the report of a shop-local day goes to each
    address once, whatever retries or reruns of its slot (the key is (day, recipient))."""

    __tablename__ = "report_deliveries"

    day: Mapped[date] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime]
