"""Stock moves: reserve (all lines or none), release, ship out, restock; all in the ledger.

No oversell under any concurrency: each change is one conditional UPDATE on the stock row
(`... WHERE quantity_on_hand - quantity_reserved >= :q`), with its ledger line written by the
same statement, taken in a fixed order (by table, then row id) so two orders never deadlock,
with the CHECK constraints behind it as a net.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from domain.errors import PermanentError
from domain.models import (
    InventoryMovement,
    MovementType,
    OrderStatus,
    PaymentStatus,
    Product,
    ProductVariant,
)
from domain.notifications import Kind
from domain.services import notify, state
from domain.services.state import PRODUCT_STOCK, VARIANT_STOCK, Outcome, StockLine
from domain.sql import Statement
from domain.validation import sql_literal

LEDGER = InventoryMovement.__tablename__
ORDER_REFERENCE = "order"  # reference_type of the movements an order makes
RESTOCK_REFERENCE = "restock"

# What must hold of a stock row for a change to it: enough free units (or backorders allowed,
# which only products have), enough units held for the line, or nothing.
_GUARDS = {
    (
        PRODUCT_STOCK,
        "free",
    ): "(quantity_on_hand - quantity_reserved >= :quantity OR allow_backorder)",
    (VARIANT_STOCK, "free"): "quantity_on_hand - quantity_reserved >= :quantity",
    (PRODUCT_STOCK, "held"): "quantity_reserved >= :quantity",
    (VARIANT_STOCK, "held"): "quantity_reserved >= :quantity",
    (PRODUCT_STOCK, "any"): "true",
    (VARIANT_STOCK, "any"): "true",
}
_LEDGER_COLUMN = {
    PRODUCT_STOCK: InventoryMovement.inventory_id.key,
    VARIANT_STOCK: InventoryMovement.inventory_variant_id.key,
}
_SET = (
    "quantity_on_hand = quantity_on_hand + :on_hand,"
    " quantity_reserved = quantity_reserved + :reserved, version = version + 1"
)
# One conditional UPDATE of a stock row and its ledger line, in one round trip: no row back
# means the guard did not hold, and then nothing moved and nothing was written.
_MOVE = {
    (table, guard): Statement(
        f"""
        WITH changed AS (
            UPDATE {table} SET {_SET} WHERE id = :row_id AND {condition}
            RETURNING id, quantity_on_hand, quantity_reserved
        )
        INSERT INTO {LEDGER} ({_LEDGER_COLUMN[table]}, movement_type, quantity,
            reason, reference_type, reference_id, resulting_quantity, resulting_reserved)
        SELECT id, :kind, :quantity, :reason, :reference_type, :reference_id,
               quantity_on_hand, quantity_reserved
        FROM changed
        RETURNING resulting_quantity, resulting_reserved
        """
    )
    for (table, guard), condition in _GUARDS.items()
}
# The same change without a ledger line: giving back a reservation this transaction made.
_UNDO = {
    table: Statement(f"UPDATE {table} SET {_SET} WHERE id = :row_id AND {_GUARDS[(table, 'held')]}")
    for table in _LEDGER_COLUMN
}
_FORGET_RESERVATION = Statement(
    f"DELETE FROM {LEDGER} WHERE reference_type = {sql_literal(ORDER_REFERENCE)}"
    f" AND reference_id = :order_id AND movement_type = {sql_literal(MovementType.RESERVE)}"
)
# The stock row of a SKU: its product's, else its variant's.
_STOCK_OF_SKU = Statement(
    f"""
    SELECT {sql_literal(PRODUCT_STOCK)} AS tbl, i.id FROM {PRODUCT_STOCK} i
    JOIN {Product.__tablename__} p ON p.id = i.product_id WHERE p.sku = :sku
    UNION ALL
    SELECT {sql_literal(VARIANT_STOCK)}, iv.id FROM {VARIANT_STOCK} iv
    JOIN {ProductVariant.__tablename__} v ON v.id = iv.variant_id WHERE v.sku = :sku
    LIMIT 1
    """
)
# The stock row locked, and whether a restock under this key already added to it.
_LOCK_AND_CHECK = {
    table: Statement(
        f"""
        SELECT EXISTS (
            SELECT 1 FROM {LEDGER}
            WHERE reference_type = {sql_literal(RESTOCK_REFERENCE)}
              AND reference_id = :reference AND {column} = :row_id
        ) AS done
        FROM {table} WHERE id = :row_id FOR UPDATE
        """
    )
    for table, column in _LEDGER_COLUMN.items()
}


class UnknownSku(PermanentError):
    pass


def _move(
    session: Session,
    line: StockLine,
    change: tuple[int, int],
    guard: str,
    kind: MovementType,
    ref: tuple[str, uuid.UUID],
    reason: str,
) -> tuple[int, int] | None:
    """Change a stock row by (on hand, reserved) if `guard` holds, with its ledger line; the
    row's (on hand, reserved) after, or None if the guard did not hold (nothing changed)."""
    params = {
        "row_id": line.row_id,
        "on_hand": change[0],
        "reserved": change[1],
        "quantity": line.quantity,
        "kind": kind.value,
        "reason": reason,
        "reference_type": ref[0],
        "reference_id": ref[1],
    }
    row = _MOVE[(line.table, guard)].run(session, params).one_or_none()
    return None if row is None else (row.resulting_quantity, row.resulting_reserved)


def reserve(session: Session, order_id: uuid.UUID, now: datetime) -> Outcome | None:
    """Hold stock for every line of a pending order, or cancel it as out of stock (and tell
    the customer). None if there is no such order; unchanged if it is no longer pending."""
    order = state.load(session, order_id)
    if order is None or order.status != OrderStatus.PENDING:
        return None if order is None else Outcome.of(order)
    short = _reserve_all(session, order)
    if short is None:
        state.transition(session, order, OrderStatus.CONFIRMED, now, "stock reserved")
        return Outcome.of(order).moved_to(OrderStatus.CONFIRMED)
    cancelled = PaymentStatus.CANCELLED
    note = f"out of stock: {short}"
    state.transition(session, order, OrderStatus.CANCELLED, now, note, payment_status=cancelled)
    state.move_payment(session, order.id, cancelled, [PaymentStatus.PENDING])
    reason = f"{short} is out of stock"
    emailed = notify.prepare(
        session, order.id, order.customer_email, Kind.ORDER_CANCELLED, reason=reason
    )
    return Outcome.of(order).moved_to(OrderStatus.CANCELLED, cancelled, emails=emailed)


def _reserve_all(session: Session, order: state.OrderState) -> str | None:
    """Reserve each line in lock order; on a shortage give back what was taken (and its ledger
    lines: nothing moved in the end), name the SKU."""
    ref = (ORDER_REFERENCE, order.id)
    taken: list[StockLine] = []
    for line in order.lines:
        if _move(session, line, (0, line.quantity), "free", MovementType.RESERVE, ref, "reserved"):
            taken.append(line)
            continue
        for held in taken:
            back = {"row_id": held.row_id, "on_hand": 0, "reserved": -held.quantity}
            _UNDO[held.table].run(session, {**back, "quantity": held.quantity})
        if taken:
            _FORGET_RESERVATION.run(session, {"order_id": order.id})
        return line.sku
    return None


def release(session: Session, order: state.OrderState, reason: str) -> None:
    """Give back what a reserved order held (each line once, whatever retries happen)."""
    ref = (ORDER_REFERENCE, order.id)
    for line in order.lines:
        _move(session, line, (0, -line.quantity), "held", MovementType.RELEASE, ref, reason)


def ship_out(session: Session, order: state.OrderState) -> None:
    """Stock leaves the shelf: on hand and reserved both drop by each line's quantity."""
    ref = (ORDER_REFERENCE, order.id)
    for line in order.lines:
        change = (-line.quantity, -line.quantity)
        if not _move(session, line, change, "held", MovementType.OUT, ref, "shipped"):
            raise PermanentError(f"order {order.order_number}: {line.sku} was not reserved")


def restock(session: Session, sku: str, quantity: int, reason: str, key: str) -> dict[str, object]:
    """Add received units once per key: a repeated message finds its movement and adds nothing."""
    reference = uuid.uuid5(uuid.NAMESPACE_URL, f"backroom:restock:{key}")
    found = _STOCK_OF_SKU.run(session, {"sku": sku}).one_or_none()
    if found is None:
        raise UnknownSku(f"sku: unknown SKU {sku}")
    line = StockLine(found.tbl, found.id, quantity, sku)
    check = {"row_id": line.row_id, "reference": reference}
    if _LOCK_AND_CHECK[line.table].run(session, check).one().done:
        return {"sku": sku, "added": 0, "duplicate": True}
    ref = (RESTOCK_REFERENCE, reference)
    after = _move(session, line, (quantity, 0), "any", MovementType.IN, ref, reason)
    assert after is not None
    return {"sku": sku, "added": quantity, "quantity_on_hand": after[0], "duplicate": False}
