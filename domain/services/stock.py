"""Stock moves: reserve (all lines or none), release, ship out, restock; all in the ledger.

No oversell under any concurrency: each change is one conditional UPDATE on the stock row
(`... WHERE quantity_on_hand - quantity_reserved >= :q`), taken in a fixed order (by table,
then row id) so two orders never deadlock, with the CHECK constraints behind it as a net.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from domain import steps
from domain.errors import PermanentError
from domain.models import (
    Inventory,
    InventoryMovement,
    InventoryVariant,
    MovementType,
    Order,
    OrderItem,
    OrderStatus,
    PaymentStatus,
    Product,
    ProductVariant,
)
from domain.uow import stage

_INVENTORY: Table = Inventory.__table__  # type: ignore[assignment]
_VARIANTS: Table = InventoryVariant.__table__  # type: ignore[assignment]


class UnknownSku(PermanentError):
    pass


@dataclass(frozen=True, order=True)
class StockLine:
    """A quantity against one stock row; sorts into the fixed lock order."""

    table: str  # "inventory" or "inventory_variants"
    row_id: uuid.UUID
    quantity: int
    sku: str


def _stock_lines(session: Session, order: Order) -> list[StockLine]:
    product_rows = select(Inventory.id, OrderItem.quantity, OrderItem.product_sku).join(
        Inventory, Inventory.product_id == OrderItem.product_id
    )
    variant_rows = select(InventoryVariant.id, OrderItem.quantity, OrderItem.product_sku).join(
        InventoryVariant, InventoryVariant.variant_id == OrderItem.variant_id
    )
    lines = [
        StockLine("inventory", *row)
        for row in session.execute(
            product_rows.where(OrderItem.order_id == order.id, OrderItem.variant_id.is_(None))
        )
    ] + [
        StockLine("inventory_variants", *row)
        for row in session.execute(variant_rows.where(OrderItem.order_id == order.id))
    ]
    return sorted(lines)


def _table(line: StockLine) -> Table:
    return _INVENTORY if line.table == "inventory" else _VARIANTS


def _record(
    session: Session,
    line: StockLine,
    kind: MovementType,
    after: tuple[int, int],
    ref: tuple[str, uuid.UUID],
    reason: str,
) -> None:
    column = "inventory_id" if line.table == "inventory" else "inventory_variant_id"
    session.add(
        InventoryMovement(
            **{column: line.row_id},
            movement_type=kind,
            quantity=line.quantity,
            reason=reason,
            reference_type=ref[0],
            reference_id=ref[1],
            resulting_quantity=after[0],
            resulting_reserved=after[1],
        )
    )


def _change(
    session: Session, line: StockLine, on_hand: int, reserved: int, guard: object
) -> tuple[int, int] | None:
    table = _table(line)
    stmt = (
        update(table)
        .where(table.c.id == line.row_id, guard)  # type: ignore[arg-type]
        .values(
            quantity_on_hand=table.c.quantity_on_hand + on_hand,
            quantity_reserved=table.c.quantity_reserved + reserved,
            version=table.c.version + 1,
        )
        .returning(table.c.quantity_on_hand, table.c.quantity_reserved)
    )
    row = session.execute(stmt).one_or_none()
    return None if row is None else (row[0], row[1])


def _can_reserve(line: StockLine) -> object:
    table = _table(line)
    enough = table.c.quantity_on_hand - table.c.quantity_reserved >= line.quantity
    return enough | table.c.allow_backorder if line.table == "inventory" else enough


def reserve(session: Session, order_id: uuid.UUID, now: datetime) -> str:
    """Hold stock for every line of a pending order, or cancel it as out of stock."""
    from domain.services import notify, orders

    order = orders.locked(session, order_id)
    if order is None or order.status != OrderStatus.PENDING:
        return "skipped" if order is None else order.status.value
    short = _reserve_all(session, order, _stock_lines(session, order))
    if short is not None:
        orders.move(session, order, OrderStatus.CANCELLED, now, f"out of stock: {short}")
        if order.payment is not None:
            order.payment.status = PaymentStatus.CANCELLED
        notify.prepare(
            session, order, notify.Kind.ORDER_CANCELLED, reason=f"{short} is out of stock"
        )
        return order.status.value
    orders.move(session, order, OrderStatus.CONFIRMED, now, "stock reserved")
    stage(session, steps.CAPTURE, {"order_id": str(order.id)}, order.id)
    return order.status.value


def _reserve_all(session: Session, order: Order, lines: list[StockLine]) -> str | None:
    """Reserve each line in lock order; on the first shortage undo all, return the SKU."""
    savepoint = session.begin_nested()
    for line in lines:
        after = _change(session, line, 0, line.quantity, _can_reserve(line))
        if after is None:
            savepoint.rollback()
            return line.sku
        _record(
            session, line, MovementType.RESERVE, after, ("order", order.id), "reserved for order"
        )
    savepoint.commit()
    return None


def release(session: Session, order: Order, reason: str) -> None:
    """Give back what a reserved order held (each line once, whatever retries happen)."""
    table = _INVENTORY
    for line in _stock_lines(session, order):
        table = _table(line)
        after = _change(
            session, line, 0, -line.quantity, table.c.quantity_reserved >= line.quantity
        )
        if after is not None:
            _record(session, line, MovementType.RELEASE, after, ("order", order.id), reason)


def ship_out(session: Session, order: Order) -> None:
    """Stock leaves the shelf: on hand and reserved both drop by each line's quantity."""
    for line in _stock_lines(session, order):
        table = _table(line)
        after = _change(
            session,
            line,
            -line.quantity,
            -line.quantity,
            table.c.quantity_reserved >= line.quantity,
        )
        if after is None:
            raise PermanentError(f"order {order.order_number}: {line.sku} was not reserved")
        _record(session, line, MovementType.OUT, after, ("order", order.id), "shipped")


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
    _record(session, line, MovementType.IN, after, ("restock", reference), reason)
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
