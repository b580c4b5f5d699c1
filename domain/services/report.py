"""The nightly report's numbers for one shop-local day, read in one transaction.

Sales come from the rollups (`daily_sales`, see `domain.models.analytics`), never from the
orders directly, so the report says what the rollups say:

- the day's totals per currency: the `shop` row (orders and customers counted once over the
  day, money captured by the provider for the day's orders);
- the last `DAYS` days per currency, each day's `shop` row (a day without sales is zero);
- the top `TOP` products, categories and vendors of the day by net sales, per currency.

The lists come from the day's records, each written once and never changed, so a rebuild of
a past day lists the same rows:

- payment failures: payments that failed during the day, with the provider's reason;
- cancellations: orders moved to `cancelled` during the day, with the history's note;
- reorder requests the day's checks made (their status is today's: open or closed by a
  restock);
- out of stock: every tracked stock row (product or variant) with nothing available at the
  day's end, read from the stock ledger: the row's last movement before the end, or, for a
  row first moved after the end, the state before that first movement, or, for a row never
  moved, its current state. Rows made after the day's end are left out;
- lead times: placed to shipped, over the orders shipped during the day (p50 and p95).

"During the day" is [start, end) of the shop-local day (`analytics.bounds`): 23 or 25 hours
on a DST change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from domain.models import (
    Category,
    DailySales,
    Inventory,
    InventoryMovement,
    InventoryVariant,
    MovementType,
    Order,
    OrderStatus,
    OrderStatusHistory,
    Payment,
    Product,
    ProductVariant,
    ReorderRequest,
    SalesDimension,
    Vendor,
)
from domain.services.analytics import bounds
from domain.sql import Statement
from domain.validation import sql_literal

DAYS = 30  # the chart's days, the report's day the last of them
TOP = 10  # products, categories and vendors listed per currency

SALES = DailySales.__tablename__
_SHOP = sql_literal(SalesDimension.SHOP)
_PRODUCT, _CATEGORY, _VENDOR = (
    sql_literal(d) for d in (SalesDimension.PRODUCT, SalesDimension.CATEGORY, SalesDimension.VENDOR)
)
_MEASURES = (
    "units, gross, discounts, tax, net, captured, refunded, orders, customers, cancellations,"
    " refunds"
)

_TOTALS = Statement(
    f"SELECT currency, {_MEASURES} FROM {SALES}"
    f" WHERE day = :day AND dimension = {_SHOP} ORDER BY currency"
)
_SERIES = Statement(
    f"SELECT day, currency, orders, net, captured FROM {SALES}"
    f" WHERE day BETWEEN :first AND :day AND dimension = {_SHOP} ORDER BY day, currency"
)
# The day's best keys of each dimension per currency by net sales (ties: by key), named.
_TOP = Statement(
    f"""
    SELECT d.dimension, d.key, d.rank, d.currency, d.units, d.orders, d.gross, d.net, d.captured,
           COALESCE(p.name, c.name, v.business_name, '(deleted)') AS name,
           COALESCE(p.sku, c.path, '') AS detail
    FROM (
        SELECT s.*, row_number() OVER (
            PARTITION BY s.dimension, s.currency ORDER BY s.net DESC, s.key
        ) AS rank
        FROM {SALES} s WHERE s.day = :day AND s.dimension <> {_SHOP}
    ) d
    LEFT JOIN {Product.__tablename__} p ON d.dimension = {_PRODUCT} AND p.id = d.key
    LEFT JOIN {Category.__tablename__} c ON d.dimension = {_CATEGORY} AND c.id = d.key
    LEFT JOIN {Vendor.__tablename__} v ON d.dimension = {_VENDOR} AND v.id = d.key
    WHERE d.rank <= :top
    ORDER BY d.dimension, d.currency, d.rank
    """
)
_FAILURES = Statement(
    f"""
    SELECT o.order_number, p.failed_at AS at, p.currency, p.amount,
           COALESCE(p.failure_reason, '') AS reason
    FROM {Payment.__tablename__} p JOIN {Order.__tablename__} o ON o.id = p.order_id
    WHERE p.failed_at >= :start AND p.failed_at < :end
    ORDER BY p.failed_at, o.order_number
    """
)
_CANCELLATIONS = Statement(
    f"""
    SELECT o.order_number, h.created_at AS at, o.currency, o.total_amount AS amount,
           COALESCE(h.notes, '') AS reason
    FROM {OrderStatusHistory.__tablename__} h JOIN {Order.__tablename__} o ON o.id = h.order_id
    WHERE h.new_status = {sql_literal(OrderStatus.CANCELLED)}
      AND h.created_at >= :start AND h.created_at < :end
    ORDER BY h.created_at, o.order_number
    """
)
_REORDERS = Statement(
    f"""
    SELECT r.id, r.sku, COALESCE(v.business_name, '') AS vendor, r.quantity, r.available,
           r.reorder_point, r.status
    FROM {ReorderRequest.__tablename__} r LEFT JOIN {Vendor.__tablename__} v ON v.id = r.vendor_id
    WHERE r.day = :day
    ORDER BY r.sku
    """
)
_LEAD_TIMES = Statement(
    f"""
    SELECT count(*) AS shipped,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM shipped_at - created_at))
               AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM shipped_at - created_at))
               AS p95
    FROM {Order.__tablename__}
    WHERE shipped_at >= :start AND shipped_at < :end
    """
)

# A movement's change to (on hand, reserved), to go back from its result to the state before.
_IN, _OUT, _RESERVE, _RELEASE = (
    sql_literal(m)
    for m in (MovementType.IN, MovementType.OUT, MovementType.RESERVE, MovementType.RELEASE)
)
_AVAILABLE_BEFORE = (
    "m.resulting_quantity - m.resulting_reserved"
    f" - CASE m.movement_type WHEN {_IN} THEN m.quantity WHEN {_OUT} THEN -m.quantity ELSE 0 END"
    f" + CASE m.movement_type WHEN {_RESERVE} THEN m.quantity"
    f" WHEN {_RELEASE} THEN -m.quantity ELSE 0 END"
)


def _available_at_end(column: str) -> str:
    """Units available at :end for the stock row `s` whose movements name it in `column`."""
    moves = InventoryMovement.__tablename__
    return f"""COALESCE(
        (SELECT m.resulting_quantity - m.resulting_reserved FROM {moves} m
         WHERE m.{column} = s.id AND m.created_at < :end
         ORDER BY m.created_at DESC, m.resulting_quantity - m.resulting_reserved LIMIT 1),
        (SELECT {_AVAILABLE_BEFORE} FROM {moves} m
         WHERE m.{column} = s.id AND m.created_at >= :end
         ORDER BY m.created_at, m.resulting_quantity - m.resulting_reserved DESC LIMIT 1),
        s.quantity_available)"""


_OUT_OF_STOCK = Statement(
    f"""
    WITH stock AS (
        SELECT p.sku, p.name, COALESCE(v.business_name, '') AS vendor, s.allow_backorder,
               {_available_at_end("inventory_id")} AS available
        FROM {Inventory.__tablename__} s
        JOIN {Product.__tablename__} p ON p.id = s.product_id
        LEFT JOIN {Vendor.__tablename__} v ON v.id = p.vendor_id
        WHERE s.track_inventory AND s.created_at < :end
        UNION ALL
        SELECT pv.sku, p.name || ' (' || pv.name || ')', COALESCE(v.business_name, ''),
               i.allow_backorder, {_available_at_end("inventory_variant_id")}
        FROM {InventoryVariant.__tablename__} s
        JOIN {ProductVariant.__tablename__} pv ON pv.id = s.variant_id
        JOIN {Product.__tablename__} p ON p.id = pv.product_id
        JOIN {Inventory.__tablename__} i ON i.product_id = p.id
        LEFT JOIN {Vendor.__tablename__} v ON v.id = p.vendor_id
        WHERE i.track_inventory AND s.created_at < :end
    )
    SELECT sku, name, vendor, available, allow_backorder FROM stock
    WHERE available <= 0 ORDER BY sku
    """
)


@dataclass(frozen=True)
class Sales:
    """One currency's measures of a day (the `shop` row), or of one key of a dimension."""

    currency: str
    units: int = 0
    gross: int = 0
    discounts: int = 0
    tax: int = 0
    net: int = 0
    captured: int = 0
    refunded: int = 0
    orders: int = 0
    customers: int = 0
    cancellations: int = 0
    refunds: int = 0


@dataclass(frozen=True)
class DayPoint:
    """One day of the chart in one currency."""

    day: date
    orders: int
    net: int
    captured: int


@dataclass(frozen=True)
class Ranked:
    """One of the day's top keys of a dimension: its name and a detail (a product's SKU, a
    category's path)."""

    dimension: SalesDimension
    key: uuid.UUID
    rank: int
    name: str
    detail: str
    currency: str
    units: int
    orders: int
    gross: int
    net: int
    captured: int


@dataclass(frozen=True)
class Incident:
    """A payment failure or a cancellation: which order, when, how much, why."""

    order_number: str
    at: datetime
    currency: str
    amount: int
    reason: str


@dataclass(frozen=True)
class Reorder:
    id: int
    sku: str
    vendor: str
    quantity: int
    available: int
    reorder_point: int
    status: str


@dataclass(frozen=True)
class OutOfStock:
    sku: str
    name: str
    vendor: str
    available: int
    allow_backorder: bool


@dataclass(frozen=True)
class LeadTimes:
    """Placed to shipped, over the orders shipped during the day; None when none shipped."""

    shipped: int
    p50: timedelta | None
    p95: timedelta | None


@dataclass(frozen=True)
class Nightly:
    """Everything the nightly report shows for one shop-local day."""

    day: date
    zone: str
    totals: tuple[Sales, ...]  # per currency
    series: dict[str, tuple[DayPoint, ...]]  # per currency: DAYS days, the report's day last
    top: tuple[Ranked, ...]
    failures: tuple[Incident, ...]
    cancellations: tuple[Incident, ...]
    reorders: tuple[Reorder, ...]
    out_of_stock: tuple[OutOfStock, ...]
    lead_times: LeadTimes

    @property
    def currencies(self) -> tuple[str, ...]:
        """Every currency the report shows, sold on the day or within the chart's days."""
        return tuple(sorted({t.currency for t in self.totals} | set(self.series)))

    def ranked(self, dimension: SalesDimension, currency: str) -> tuple[Ranked, ...]:
        return tuple(r for r in self.top if r.dimension == dimension and r.currency == currency)

    def total(self, currency: str) -> Sales:
        return next((t for t in self.totals if t.currency == currency), Sales(currency))


def read(session: Session, day: date, zone: ZoneInfo) -> Nightly:
    """The report's numbers for the shop-local `day` (see the module)."""
    start, end = bounds(day, zone)
    window = {"start": start, "end": end}
    first = day - timedelta(days=DAYS - 1)
    return Nightly(
        day=day,
        zone=zone.key,
        totals=tuple(Sales(**row._asdict()) for row in _TOTALS.run(session, {"day": day})),
        series=_series(session, first, day),
        top=tuple(
            Ranked(**{**row._asdict(), "dimension": SalesDimension(row.dimension)})
            for row in _TOP.run(session, {"day": day, "top": TOP})
        ),
        failures=tuple(Incident(**row._asdict()) for row in _FAILURES.run(session, window)),
        cancellations=tuple(
            Incident(**row._asdict()) for row in _CANCELLATIONS.run(session, window)
        ),
        reorders=tuple(Reorder(**row._asdict()) for row in _REORDERS.run(session, {"day": day})),
        out_of_stock=tuple(
            OutOfStock(**row._asdict()) for row in _OUT_OF_STOCK.run(session, {"end": end})
        ),
        lead_times=_lead_times(session, window),
    )


def _series(session: Session, first: date, day: date) -> dict[str, tuple[DayPoint, ...]]:
    found: dict[str, dict[date, DayPoint]] = {}
    for row in _SERIES.run(session, {"first": first, "day": day}):
        point = DayPoint(row.day, row.orders, row.net, row.captured)
        found.setdefault(row.currency, {})[row.day] = point
    days = [first + timedelta(days=n) for n in range((day - first).days + 1)]
    return {
        currency: tuple(points.get(d, DayPoint(d, 0, 0, 0)) for d in days)
        for currency, points in sorted(found.items())
    }


def _lead_times(session: Session, window: dict[str, datetime]) -> LeadTimes:
    row = _LEAD_TIMES.run(session, window).one()
    if not row.shipped:
        return LeadTimes(0, None, None)
    return LeadTimes(int(row.shipped), timedelta(seconds=row.p50), timedelta(seconds=row.p95))
