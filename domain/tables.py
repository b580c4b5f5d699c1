"""The mapped tables as Core `Table`s, for the few statements still built with Core (a cancel,
a refund): they skip the ORM's per-statement machinery. The hot path's statements are
`domain.sql.Statement`s, written once and prepared per connection."""

from __future__ import annotations

from sqlalchemy import Table

from domain.models import Notification, Order, Payment


def _table(model: type) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


orders = _table(Order)
payments = _table(Payment)
notifications = _table(Notification)
