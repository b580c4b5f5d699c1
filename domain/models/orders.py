"""Orders, their lines (price and name snapshots) and the history of every status change."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Numeric,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, Entity, JSONDoc, check, str_enum

if TYPE_CHECKING:
    from domain.models.fulfilment import Payment, Shipment
    from domain.models.users import Customer

ORDER_NUMBER_PATTERN = "^ORD-[0-9]{8}-[A-Z0-9]{6}$"
order_number_seq = Sequence("order_number_seq", metadata=Base.metadata)


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class ShippingStatus(enum.StrEnum):
    PENDING = "pending"
    PREPARING = "preparing"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED_DELIVERY = "failed_delivery"
    RETURNED = "returned"


_MONEY = ("subtotal", "tax_amount", "shipping_cost", "discount_amount", "total_amount")


class Order(Entity):
    """An order as placed. Amounts are integer cents in `currency`; the total must add up."""

    __tablename__ = "orders"
    __table_args__ = (
        *(check(f"{col} >= 0", f"{col}_non_negative") for col in _MONEY),
        check(
            "total_amount = subtotal + tax_amount + shipping_cost - discount_amount",
            "total_adds_up",
        ),
        check(f"order_number ~ '{ORDER_NUMBER_PATTERN}'", "order_number_format"),
        check("currency ~ '^[A-Z]{3}$'", "currency_format"),
        Index("ix_orders_customer_status", "customer_id", "status"),
        Index("ix_orders_date_status", "created_at", "status"),
        Index("ix_orders_total", "total_amount"),
    )

    order_number: Mapped[str] = mapped_column(String(50), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    # sha256 of the request placed under the key (`domain.contracts.fingerprint`): the same key
    # with another request is refused. NULL for orders placed before it was kept.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[OrderStatus] = mapped_column(
        str_enum(OrderStatus, "order_status"),
        default=OrderStatus.PENDING,
        server_default=OrderStatus.PENDING.value,
        index=True,
    )
    payment_status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus, "payment_status"),
        default=PaymentStatus.PENDING,
        server_default=PaymentStatus.PENDING.value,
        index=True,
    )
    shipping_status: Mapped[ShippingStatus] = mapped_column(
        str_enum(ShippingStatus, "shipping_status"),
        default=ShippingStatus.PENDING,
        server_default=ShippingStatus.PENDING.value,
        index=True,
    )
    subtotal: Mapped[int] = mapped_column(default=0, server_default="0")
    tax_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    shipping_cost: Mapped[int] = mapped_column(default=0, server_default="0")
    discount_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    total_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    customer_email: Mapped[str] = mapped_column(String(255))
    customer_phone: Mapped[str | None] = mapped_column(String(20))
    billing_address: Mapped[JSONDoc]
    shipping_address: Mapped[JSONDoc]
    shipping_method: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100), index=True)
    estimated_delivery_date: Mapped[datetime | None]
    actual_delivery_date: Mapped[datetime | None]
    coupon_code: Mapped[str | None] = mapped_column(String(50), index=True)
    coupon_discount: Mapped[int] = mapped_column(default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    exchange_rate: Mapped[Decimal] = mapped_column(
        Numeric(10, 6), default=Decimal(1), server_default="1"
    )
    order_source: Mapped[str] = mapped_column(String(50), default="api", server_default="api")
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    confirmed_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    customer_notes: Mapped[str | None] = mapped_column(Text)
    internal_notes: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )
    status_history: Mapped[list[OrderStatusHistory]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderStatusHistory.id"
    )
    payment: Mapped[Payment | None] = relationship(back_populates="order")
    shipment: Mapped[Shipment | None] = relationship(back_populates="order")


class OrderItem(Entity):
    """One line of an order; name, SKU and price are copied so later catalog edits don't move it."""

    __tablename__ = "order_items"
    __table_args__ = (
        check("quantity > 0", "quantity_positive"),
        check("unit_price >= 0", "unit_price_non_negative"),
        check("total_price = quantity * unit_price", "total_adds_up"),
        UniqueConstraint("order_id", "product_sku"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("product_variants.id", ondelete="RESTRICT"), index=True
    )
    product_name: Mapped[str] = mapped_column(String(500))
    product_sku: Mapped[str] = mapped_column(String(100))
    product_description: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int]
    unit_price: Mapped[int]
    total_price: Mapped[int]
    product_attributes: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    variant_attributes: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")

    order: Mapped[Order] = relationship(back_populates="items")


class OrderStatusHistory(Base):
    """One row per status change, written in the same transaction as the change."""

    __tablename__ = "order_status_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    old_status: Mapped[OrderStatus | None] = mapped_column(str_enum(OrderStatus, "old_status"))
    new_status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, "new_status"))
    notes: Mapped[str | None] = mapped_column(Text)
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)

    order: Mapped[Order] = relationship(back_populates="status_history")
