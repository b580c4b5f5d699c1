"""The mapped tables as Core `Table`s, for the hot path: statements on them skip the ORM's
per-statement machinery (bulk persistence, entity loading) and cost a plain round trip."""

from __future__ import annotations

from sqlalchemy import Table

from domain.models import (
    InventoryMovement,
    Notification,
    Order,
    OrderItem,
    OrderStatusHistory,
    Payment,
    Shipment,
)


def _table(model: type) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


orders = _table(Order)
order_items = _table(OrderItem)
order_status_history = _table(OrderStatusHistory)
payments = _table(Payment)
shipments = _table(Shipment)
inventory_movements = _table(InventoryMovement)
notifications = _table(Notification)
