"""Stock moves: reserve (all lines or none), release, ship out, restock; all in the ledger.

No oversell under any concurrency: each change is one conditional UPDATE on the stock row
(`... WHERE quantity_on_hand - quantity_reserved >= :q`), with its ledger line written by the
same statement, taken in a fixed order (by table, then row id) so two orders never deadlock,
with the CHECK constraints behind it as a net.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Table, select, text, update
from sqlalchemy.orm import Session

from domain import steps, tables
from domain.errors import PermanentError
from domain.models import (
    Inventory,
    InventoryMovement,
    InventoryVariant,
    MovementType,
    OrderStatus,
    PaymentStatus,
    Product,
    ProductVariant,
)
from domain.notifications import Kind
from domain.services import notify, state
from domain.services.state import StockLine
from domain.sql import Statement
from domain.uow import stage

_INVENTORY: Table = Inventory.__table__  # type: ignore[assignment]
_VARIANTS: Table = InventoryVariant.__table__  # type: ignore[assignment]

# What must hold of a stock row for a change to it: enough free units (or backorders allowed,
# which only products have), enough units held for the line, or nothing.
_GUARDS = {
    ("inventory", "free"): "(quantity_on_hand - quantity_reserved >= :quantity OR allow_backorder)",
    ("inventory_variants", "free"): "quantity_on_hand - quantity_reserved >= :quantity",
    ("inventory", "held"): "quantity_reserved >= :quantity",
    ("inventory_variants", "held"): "quantity_reserved >= :quantity",
    ("inventory", "any"): "true",
    ("inventory_variants", "any"): "true",
}
_LEDGER_COLUMN = {"inventory": "inventory_id", "inventory_variants": "inventory_variant_id"}
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
        INSERT INTO inventory_movements ({_LEDGER_COLUMN[table]}, movement_type, quantity,
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
    table: text(f"UPDATE {table} SET {_SET} WHERE id = :row_id AND {_GUARDS[(table, 'held')]}")
    for table in _LEDGER_COLUMN
}
_FORGET_RESERVATION = text(
    "DELETE FROM inventory_movements WHERE reference_type = 'order' AND reference_id = :order_id"
    " AND movement_type = 'reserve'"
)


class UnknownSku(PermanentError):
    pass


def _table(line: StockLine) -> Table:
    return _INVENTORY if line.table == "inventory" else _VARIANTS


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


def reserve(session: Session, order_id: uuid.UUID, now: datetime) -> str:
    """Hold stock for every line of a pending order, or cancel it as out of stock."""
    order = state.load(session, order_id)
    if order is None or order.status != OrderStatus.PENDING:
        return "skipped" if order is None else order.status.value
    short = _reserve_all(session, order)
    if short is None:
        state.transition(session, order, OrderStatus.CONFIRMED, now, "stock reserved")
        stage(session, steps.CAPTURE, {"order_id": str(order.id)}, order.id)
        return OrderStatus.CONFIRMED.value
    state.transition(
        session,
        order,
        OrderStatus.CANCELLED,
        now,
        f"out of stock: {short}",
        payment_status=PaymentStatus.CANCELLED.value,
    )
    session.execute(
        update(tables.payments)
        .where(tables.payments.c.order_id == order.id)
        .values(status=PaymentStatus.CANCELLED)
    )
    notify.prepare(
        session,
        order.id,
        order.customer_email,
        Kind.ORDER_CANCELLED,
        reason=f"{short} is out of stock",
    )
    return OrderStatus.CANCELLED.value


def _reserve_all(session: Session, order: state.OrderState) -> str | None:
    """Reserve each line in lock order; on a shortage give back what was taken (and its ledger
    lines: nothing moved in the end), name the SKU."""
    ref = ("order", order.id)
    taken: list[StockLine] = []
    for line in order.lines:
        if _move(session, line, (0, line.quantity), "free", MovementType.RESERVE, ref, "reserved"):
            taken.append(line)
            continue
        for held in taken:
            back = {"row_id": held.row_id, "on_hand": 0, "reserved": -held.quantity}
            session.execute(_UNDO[held.table], {**back, "quantity": held.quantity})
        if taken:
            session.execute(_FORGET_RESERVATION, {"order_id": order.id})
        return line.sku
    return None


def release(session: Session, order: state.OrderState, reason: str) -> None:
    """Give back what a reserved order held (each line once, whatever retries happen)."""
    for line in order.lines:
        change = (0, -line.quantity)
        _move(session, line, change, "held", MovementType.RELEASE, ("order", order.id), reason)


def ship_out(session: Session, order: state.OrderState) -> None:
    """Stock leaves the shelf: on hand and reserved both drop by each line's quantity."""
    for line in order.lines:
        change = (-line.quantity, -line.quantity)
        if not _move(
            session, line, change, "held", MovementType.OUT, ("order", order.id), "shipped"
        ):
            raise PermanentError(f"order {order.order_number}: {line.sku} was not reserved")


def restock(session: Session, sku: str, quantity: int, reason: str, key: str) -> dict[str, object]:
    """Add received units once per key: a repeated message finds its movement and adds nothing."""
    line = _restock_line(session, sku, quantity)
    reference = uuid.uuid5(uuid.NAMESPACE_URL, f"backroom:restock:{key}")
    table = _table(line)
    session.execute(select(table.c.id).where(table.c.id == line.row_id).with_for_update())
    if _already(session, line, reference):
        return {"sku": sku, "added": 0, "duplicate": True}
    after = _move(
        session, line, (quantity, 0), "any", MovementType.IN, ("restock", reference), reason
    )
    assert after is not None
    return {"sku": sku, "added": quantity, "quantity_on_hand": after[0], "duplicate": False}


def _restock_line(session: Session, sku: str, quantity: int) -> StockLine:
    row = session.execute(
        select(Inventory.id).join(Product).where(Product.sku == sku)
    ).scalar_one_or_none()
    if row is not None:
        return StockLine("inventory", row, quantity, sku)
    row = session.execute(
        select(InventoryVariant.id).join(ProductVariant).where(ProductVariant.sku == sku)
    ).scalar_one_or_none()
    if row is None:
        raise UnknownSku(f"sku: unknown SKU {sku}")
    return StockLine("inventory_variants", row, quantity, sku)


def _already(session: Session, line: StockLine, reference: uuid.UUID) -> bool:
    column = (
        InventoryMovement.inventory_id
        if line.table == "inventory"
        else InventoryMovement.inventory_variant_id
    )
    found = session.execute(
        select(InventoryMovement.id).where(
            InventoryMovement.reference_type == "restock",
            InventoryMovement.reference_id == reference,
            column == line.row_id,
        )
    ).first()
    return found is not None
