"""An order's state on the hot path, in as few round trips as the work allows.

`load` reads the order and its stock lines in one statement and row-locks the order, so
duplicate deliveries of a step queue up behind each other; `transition` moves the status,
bumps the optimistic version and writes the history row in one statement, and only if the
order is still where the caller found it.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.models import OrderStatus
from domain.sql import Statement

log = logging.getLogger("backroom.orders")

_STAMPS = {
    OrderStatus.CONFIRMED: "confirmed_at",
    OrderStatus.SHIPPED: "shipped_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.CANCELLED: "cancelled_at",
}

_LOAD = Statement(
    """
    SELECT o.id, o.order_number, o.status, o.payment_status, o.customer_email, o.currency,
           o.total_amount, o.shipping_method, o.shipping_address,
           oi.product_sku, oi.quantity,
           CASE WHEN oi.variant_id IS NULL THEN 'inventory' ELSE 'inventory_variants' END AS tbl,
           coalesce(inv.id, iv.id) AS stock_id
    FROM orders o
    JOIN order_items oi ON oi.order_id = o.id
    LEFT JOIN inventory inv ON inv.product_id = oi.product_id AND oi.variant_id IS NULL
    LEFT JOIN inventory_variants iv ON iv.variant_id = oi.variant_id
    WHERE o.id = :id
    FOR UPDATE OF o
    """
)


@dataclass(frozen=True, order=True)
class StockLine:
    """A quantity against one stock row; sorts into the fixed lock order (table, row id)."""

    table: str  # "inventory" or "inventory_variants"
    row_id: uuid.UUID
    quantity: int
    sku: str


@dataclass(frozen=True)
class OrderState:
    id: uuid.UUID
    order_number: str
    status: OrderStatus
    payment_status: str
    customer_email: str
    currency: str
    total_amount: int
    shipping_method: str | None
    shipping_address: dict[str, Any]
    lines: tuple[StockLine, ...]


def load(session: Session, order_id: uuid.UUID) -> OrderState | None:
    """The order and its stock lines (sorted in lock order), with the order row locked."""
    rows = _LOAD.run(session, {"id": order_id}).all()
    if not rows:
        return None
    first = rows[0]
    lines = sorted(StockLine(r.tbl, r.stock_id, r.quantity, r.product_sku) for r in rows)
    return OrderState(
        id=first.id,
        order_number=first.order_number,
        status=OrderStatus(first.status),
        payment_status=first.payment_status,
        customer_email=first.customer_email,
        currency=first.currency,
        total_amount=first.total_amount,
        shipping_method=first.shipping_method,
        shipping_address=first.shipping_address,
        lines=tuple(lines),
    )


@functools.cache
def _transition_statement(columns: tuple[str, ...]) -> Statement:
    """The move, with these extra columns set, and its history row: one statement."""
    assignments = "".join(f", {name} = :{name}" for name in columns)
    return Statement(
        f"""
        WITH moved AS (
            UPDATE orders SET status = :new, version = version + 1{assignments}
            WHERE id = :id AND status = :old
            RETURNING id
        )
        INSERT INTO order_status_history (order_id, old_status, new_status, notes)
        SELECT id, :old, :new, :note FROM moved
        """
    )


def transition(
    session: Session,
    order: OrderState,
    new: OrderStatus,
    now: datetime,
    note: str,
    **fields: Any,
) -> bool:
    """Move `order` from the status it was loaded in to `new`, with its history row."""
    sets = {**fields, **({_STAMPS[new]: now} if new in _STAMPS else {})}
    statement = _transition_statement(tuple(sets))
    params = {"id": order.id, "old": order.status.value, "new": new.value, "note": note, **sets}
    result: Any = statement.run(session, params)
    moved = bool(result.rowcount == 1)
    if moved:
        log.info("order=%s %s -> %s: %s", order.order_number, order.status.value, new.value, note)
    return moved
