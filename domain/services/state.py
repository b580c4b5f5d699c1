"""An order's state on the hot path, in as few round trips as the work allows.

`load` reads the order and its stock lines in one statement and row-locks the order, so
duplicate deliveries of a step queue up behind each other; `transition` moves the status,
bumps the optimistic version and writes the history row in one statement, and only if the
order is still where the caller found it. Every service that moves an order answers with an
`Outcome`: where the order stands after the step, which the handlers read to decide what
comes next.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain import log_context
from domain.models import (
    Inventory,
    InventoryVariant,
    Order,
    OrderItem,
    OrderStatus,
    OrderStatusHistory,
    Payment,
    PaymentStatus,
    ShippingStatus,
)
from domain.secrets import SEALED_TOKEN
from domain.sql import Statement
from domain.validation import sql_literal

log = logging.getLogger("backroom.orders")

ORDERS = Order.__tablename__
PRODUCT_STOCK = Inventory.__tablename__
VARIANT_STOCK = InventoryVariant.__tablename__

_LOAD = Statement(
    f"""
    SELECT o.id, o.order_number, o.status, o.payment_status, o.customer_email, o.currency,
           o.total_amount, o.shipping_method, o.shipping_address,
           oi.product_sku, oi.quantity,
           CASE WHEN oi.variant_id IS NULL THEN {sql_literal(PRODUCT_STOCK)}
                ELSE {sql_literal(VARIANT_STOCK)} END AS tbl,
           coalesce(inv.id, iv.id) AS stock_id
    FROM {ORDERS} o
    JOIN {OrderItem.__tablename__} oi ON oi.order_id = o.id
    LEFT JOIN {PRODUCT_STOCK} inv ON inv.product_id = oi.product_id AND oi.variant_id IS NULL
    LEFT JOIN {VARIANT_STOCK} iv ON iv.variant_id = oi.variant_id
    WHERE o.id = :id
    FOR UPDATE OF o
    """
)

_CONFIRMED, _SHIPPED, _CANCELLED = (
    sql_literal(status)
    for status in (OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.CANCELLED)
)
# The move and its history row, in one statement. Columns a move does not set keep their value
# (a NULL parameter); the time stamp of the new status is set from :now.
_TRANSITION = Statement(
    f"""
    WITH moved AS (
        UPDATE {ORDERS} SET
            status = :new,
            version = version + 1,
            payment_status = coalesce(:payment_status, payment_status),
            shipping_status = coalesce(:shipping_status, shipping_status),
            tracking_number = coalesce(:tracking_number, tracking_number),
            confirmed_at = CASE WHEN CAST(:new AS varchar) = {_CONFIRMED}
                                THEN :now ELSE confirmed_at END,
            shipped_at = CASE WHEN CAST(:new AS varchar) = {_SHIPPED}
                              THEN :now ELSE shipped_at END,
            cancelled_at = CASE WHEN CAST(:new AS varchar) = {_CANCELLED}
                                THEN :now ELSE cancelled_at END
        WHERE id = :id AND status = :old
        RETURNING id
    )
    INSERT INTO {OrderStatusHistory.__tablename__} (order_id, old_status, new_status, notes)
    SELECT id, :old, :new, :note FROM moved
    """
)
_PAYMENT_STATUS = Statement(
    f"UPDATE {ORDERS} SET payment_status = :payment_status, version = version + 1"
    " WHERE id = :id AND payment_status IS DISTINCT FROM :payment_status"
)
# The order's payment row: its new status, from one of the statuses it may move from, with the
# columns of that move (the others keep their value: a NULL parameter). Every move settles the
# payment (captured, declined, cancelled, refunded), so the sealed payment token, needed only to
# authorize, is dropped with it.
_PAYMENT_COLUMNS = (
    "provider",
    "provider_reference",
    "authorized_at",
    "captured_at",
    "failed_at",
    "failure_reason",
    "refunded_amount",
    "refunded_at",
)
_PAYMENT = Statement(
    f"UPDATE {Payment.__tablename__} SET status = :status, version = version + 1"
    + "".join(f", {name} = coalesce(:{name}, {name})" for name in _PAYMENT_COLUMNS)
    + f", details = details - {sql_literal(SEALED_TOKEN)}"
    + " WHERE order_id = :order_id AND status = ANY(CAST(:movable AS text[]))"
)


@dataclass(frozen=True, order=True)
class StockLine:
    """A quantity against one stock row; sorts into the fixed lock order (table, row id)."""

    table: str  # PRODUCT_STOCK or VARIANT_STOCK
    row_id: uuid.UUID
    quantity: int
    sku: str


@dataclass(frozen=True)
class OrderState:
    id: uuid.UUID
    order_number: str
    status: OrderStatus
    payment_status: PaymentStatus
    customer_email: str
    currency: str
    total_amount: int
    shipping_method: str | None
    shipping_address: dict[str, Any]
    lines: tuple[StockLine, ...]


@dataclass(frozen=True)
class Outcome:
    """Where an order stands after a step: its status and payment status, whether the step
    changed it (`moved`), and whether it decided a new email for the customer (`emails`)."""

    order_id: uuid.UUID
    status: OrderStatus
    payment_status: PaymentStatus
    moved: bool = False
    emails: bool = False

    @classmethod
    def of(cls, order: OrderState) -> Outcome:
        """The order as it was loaded, unchanged."""
        return cls(order.id, order.status, order.payment_status)

    def moved_to(
        self, status: OrderStatus, payment: PaymentStatus | None = None, *, emails: bool = False
    ) -> Outcome:
        return replace(
            self,
            status=status,
            payment_status=payment or self.payment_status,
            moved=True,
            emails=self.emails or emails,
        )


def load(session: Session, order_id: uuid.UUID) -> OrderState | None:
    """The order and its stock lines (sorted in lock order), with the order row locked."""
    rows = _LOAD.run(session, {"id": order_id}).all()
    if not rows:
        return None
    first = rows[0]
    log_context.bind(order=first.order_number)  # the step's lines name the order it loaded
    lines = sorted(StockLine(r.tbl, r.stock_id, r.quantity, r.product_sku) for r in rows)
    return OrderState(
        id=first.id,
        order_number=first.order_number,
        status=OrderStatus(first.status),
        payment_status=PaymentStatus(first.payment_status),
        customer_email=first.customer_email,
        currency=first.currency,
        total_amount=first.total_amount,
        shipping_method=first.shipping_method,
        shipping_address=first.shipping_address,
        lines=tuple(lines),
    )


def transition(
    session: Session,
    order: OrderState,
    new: OrderStatus,
    now: datetime,
    note: str,
    *,
    payment_status: PaymentStatus | None = None,
    shipping_status: ShippingStatus | None = None,
    tracking_number: str | None = None,
) -> bool:
    """Move `order` from the status it was loaded in to `new`, with its history row."""
    params = {
        "id": order.id,
        "old": order.status.value,
        "new": new.value,
        "note": note,
        "now": now,
        "payment_status": None if payment_status is None else payment_status.value,
        "shipping_status": None if shipping_status is None else shipping_status.value,
        "tracking_number": tracking_number,
    }
    moved = _TRANSITION.run(session, params).rowcount == 1
    if moved:
        log.info("order=%s %s -> %s: %s", order.order_number, order.status.value, new.value, note)
    return moved


def set_payment_status(session: Session, order_id: uuid.UUID, status: PaymentStatus) -> None:
    """The order's copy of its payment's status, when the order's own status stays."""
    _PAYMENT_STATUS.run(session, {"id": order_id, "payment_status": status.value})


def move_payment(
    session: Session,
    order_id: uuid.UUID,
    status: PaymentStatus,
    movable: Iterable[PaymentStatus],
    **columns: object,
) -> bool:
    """Set the order's payment row to `status` if it is in one of the `movable` statuses, with
    the columns of that move (`captured_at`, `failure_reason`...); whether it moved."""
    unknown = set(columns) - set(_PAYMENT_COLUMNS)
    if unknown:
        raise TypeError(f"payments has no settable column {', '.join(sorted(unknown))}")
    params = dict.fromkeys(_PAYMENT_COLUMNS) | columns
    params |= {"order_id": order_id, "status": status.value, "movable": [s.value for s in movable]}
    return _PAYMENT.run(session, params).rowcount == 1
