"""The pipeline's own records: the outbox of next steps, notifications, dead letters.

Each step writes the next step as an outbox row in the same transaction as its work, and
publishes it only after the commit; a sweep publishes whatever a crash left behind.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, JSONDoc, check, str_enum


class OutboxMessage(Base):
    """A next step: task name and keyword arguments, written with the work that decided it.

    `consumed_at` is set by the step itself, in its own transaction, when a worker runs it; a
    row still unconsumed after a while was lost on the way and the sweep sends it again.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unconsumed", "sent_at", postgresql_where="consumed_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(100))
    kwargs: Mapped[JSONDoc]
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime] = mapped_column(server_default=func.now())  # last (re)send
    consumed_at: Mapped[datetime | None]
    sends: Mapped[int] = mapped_column(default=1, server_default="1")  # 1 + times re-sent


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Notification(Base):
    """One customer email per (order, kind): the UNIQUE key is what stops a second one."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("order_id", "kind"),
        check("attempts >= 0", "attempts_non_negative"),
        Index(
            "ix_notifications_open",
            "order_id",
            "created_at",
            postgresql_where="status = 'pending'",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    recipient: Mapped[str] = mapped_column(String(255))
    context: Mapped[JSONDoc]
    status: Mapped[NotificationStatus] = mapped_column(
        str_enum(NotificationStatus, "notification_status"),
        default=NotificationStatus.PENDING,
        server_default=NotificationStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # Pending: the end of a sender's lease on it, or when to try again after the mail server
    # could not take it; NULL if never tried (`domain.services.notify`).
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DeadLetterStatus(enum.StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class DeadLetter(Base):
    """A message Backroom could not process: kept whole, with the reason, for an operator."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        Index("ix_dead_letters_open", "created_at", postgresql_where="status = 'open'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(100), index=True)
    task_id: Mapped[str | None] = mapped_column(String(155))
    queue: Mapped[str | None] = mapped_column(String(50))
    payload: Mapped[Any] = mapped_column(JSONB)  # {"args": [...], "kwargs": {...}} as received
    reason: Mapped[str] = mapped_column(Text)
    error_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[DeadLetterStatus] = mapped_column(
        str_enum(DeadLetterStatus, "dead_letter_status"),
        default=DeadLetterStatus.OPEN,
        server_default=DeadLetterStatus.OPEN.value,
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(Text)
