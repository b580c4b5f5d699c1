"""What happens to an order after it is placed: its payment and its shipment (one of each)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Entity, JSONDoc, check, str_enum
from domain.models.orders import PaymentStatus, ShippingStatus

if TYPE_CHECKING:
    from domain.models.orders import Order


class Payment(Entity):
    """The order's payment at the provider. One per order; the idempotency key is the provider's."""

    __tablename__ = "payments"
    __table_args__ = (
        check("amount > 0", "amount_positive"),
        check("refunded_amount >= 0 AND refunded_amount <= amount", "refund_within_amount"),
        check("attempts >= 0", "attempts_non_negative"),
        check("currency ~ '^[A-Z]{3}$'", "currency_format"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), unique=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus, "payment_status"),
        default=PaymentStatus.PENDING,
        server_default=PaymentStatus.PENDING.value,
        index=True,
    )
    provider: Mapped[str] = mapped_column(String(50))
    provider_reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    authorized_at: Mapped[datetime | None]
    captured_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)
    refunded_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    refunded_at: Mapped[datetime | None]
    details: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")

    order: Mapped[Order] = relationship(back_populates="payment")


class Shipment(Entity):
    """The parcel for an order: one per order, with a tracking number unique across carriers."""

    __tablename__ = "shipments"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), unique=True
    )
    tracking_number: Mapped[str] = mapped_column(String(100), unique=True)
    carrier: Mapped[str] = mapped_column(String(50))
    shipping_method: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[ShippingStatus] = mapped_column(
        str_enum(ShippingStatus, "shipping_status"),
        default=ShippingStatus.PREPARING,
        server_default=ShippingStatus.PREPARING.value,
        index=True,
    )
    shipped_at: Mapped[datetime | None]
    estimated_delivery_date: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    address: Mapped[JSONDoc]
    notes: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="shipment")
