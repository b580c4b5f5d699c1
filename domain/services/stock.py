"""Stock moves: reserve (all lines or none), release, ship out, restock; all in the ledger.

No oversell under any concurrency: each change is one conditional UPDATE on the stock row
(`... WHERE quantity_on_hand - quantity_reserved >= :q`), taken in a fixed order (by table,
then row id) so two orders never deadlock, with the CHECK constraints behind it as a net.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Table, insert, or_, select, update
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
from domain.uow import stage

_INVENTORY: Table = Inventory.__table__  # type: ignore[assignment]
_VARIANTS: Table = InventoryVariant.__table__  # type: ignore[assignment]


class UnknownSku(PermanentError):
    pass


def _table(line: StockLine) -> Table:
    return _INVENTORY if line.table == "inventory" else _VARIANTS


def _movement(
    line: StockLine,
    kind: MovementType,
    after: tuple[int, int],
    ref: tuple[str, uuid.UUID],
    reason: str,
) -> dict[str, object]:
    column = "inventory_id" if line.table == "inventory" else "inventory_variant_id"
    other = "inventory_variant_id" if line.table == "inventory" else "inventory_id"
    return {
        column: line.row_id,
        other: None,
        "movement_type": kind.value,
        "quantity": line.quantity,
        "reason": reason,
        "reference_type": ref[0],
        "reference_id": ref[1],
        "resulting_quantity": after[0],
        "resulting_reserved": after[1],
    }


def _record(session: Session, movements: list[dict[str, object]]) -> None:
    if movements:
        session.execute(insert(tables.inventory_movements), movements)


def _change(
    session: Session, line: StockLine, on_hand: int, reserved: int, guard: ColumnElement[bool]
) -> tuple[int, int] | None:
    """One conditional UPDATE of a stock row; None if the guard did not hold."""
    table = _table(line)
    stmt = (
        update(table)
        .where(table.c.id == line.row_id, guard)
        .values(
            quantity_on_hand=table.c.quantity_on_hand + on_hand,
            quantity_reserved=table.c.quantity_reserved + reserved,
            version=table.c.version + 1,
        )
        .returning(table.c.quantity_on_hand, table.c.quantity_reserved)
    )
    row = session.execute(stmt).one_or_none()
    return None if row is None else (row[0], row[1])


def _can_reserve(line: StockLine) -> ColumnElement[bool]:
    table = _table(line)
    enough = table.c.quantity_on_hand - table.c.quantity_reserved >= line.quantity
    return or_(enough, table.c.allow_backorder) if line.table == "inventory" else enough


def _holds(line: StockLine) -> ColumnElement[bool]:
    return _table(line).c.quantity_reserved >= line.quantity


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
    """Reserve each line in lock order; on a shortage give back what was taken, name the SKU."""
    done: list[tuple[StockLine, tuple[int, int]]] = []
    for line in order.lines:
        after = _change(session, line, 0, line.quantity, _can_reserve(line))
        if after is None:
            for taken, _ in done:
                _change(session, taken, 0, -taken.quantity, _holds(taken))
            return line.sku
        done.append((line, after))
    ref = ("order", order.id)
    _record(session, [_movement(ln, MovementType.RESERVE, a, ref, "reserved") for ln, a in done])
    return None


def release(session: Session, order: state.OrderState, reason: str) -> None:
    """Give back what a reserved order held (each line once, whatever retries happen)."""
    movements = []
    for line in order.lines:
        after = _change(session, line, 0, -line.quantity, _holds(line))
        if after is not None:
            movements.append(
                _movement(line, MovementType.RELEASE, after, ("order", order.id), reason)
            )
    _record(session, movements)


def ship_out(session: Session, order: state.OrderState) -> None:
    """Stock leaves the shelf: on hand and reserved both drop by each line's quantity."""
    movements = []
    for line in order.lines:
        after = _change(session, line, -line.quantity, -line.quantity, _holds(line))
        if after is None:
            raise PermanentError(f"order {order.order_number}: {line.sku} was not reserved")
        movements.append(_movement(line, MovementType.OUT, after, ("order", order.id), "shipped"))
    _record(session, movements)


def restock(session: Session, sku: str, quantity: int, reason: str, key: str) -> dict[str, object]:
    """Add received units once per key: a repeated message finds its movement and adds nothing."""
    line = _restock_line(session, sku, quantity)
    reference = uuid.uuid5(uuid.NAMESPACE_URL, f"backroom:restock:{key}")
    table = _table(line)
    session.execute(select(table.c.id).where(table.c.id == line.row_id).with_for_update())
    if _already(session, line, reference):
        return {"sku": sku, "added": 0, "duplicate": True}
    after = _change(session, line, quantity, 0, table.c.id == line.row_id)
    assert after is not None
    _record(session, [_movement(line, MovementType.IN, after, ("restock", reference), reason)])
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
