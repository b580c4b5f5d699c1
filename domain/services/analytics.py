"""Daily sales rollups: one shop-local day of orders aggregated into `daily_sales` (the measures
are defined in `domain.models.analytics`).

`rollup` recomputes a day for the four dimensions in one statement: the day's order lines,
each with its shares of its order's discount, tax, refund and captured payment (running-total
rounding, a window over the order's lines), are grouped by product, by vendor, by every
category of the product's subtrees and for the whole shop, and upserted (ON CONFLICT (day,
dimension, key, currency) DO UPDATE); the day's rows the statement did not write (a key that
no longer sold that day) are deleted by the same statement. A rollup of a day is therefore
exact whatever the rows held.

`dirty_days` finds the days to roll up again: days whose orders (or their payments) changed
after the day's rows were written, and days with orders and no rows at all. A change is
compared with the rows' time less `SETTLE`: an order's `updated_at` is the start of the
transaction that changed it, which may commit after a rollup that began later; such a day is
rolled once more on the next run rather than missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from domain.models import (
    SHOP_KEY,
    Category,
    DailySales,
    Order,
    OrderItem,
    OrderStatus,
    Payment,
    Product,
    SalesDimension,
    product_categories,
)
from domain.sql import Statement
from domain.validation import sql_literal

SALES = DailySales.__tablename__
ORDERS, ITEMS, PAYMENTS = Order.__tablename__, OrderItem.__tablename__, Payment.__tablename__
SETTLE = timedelta(minutes=5)  # how long a change may take to commit after it was stamped
LOOKBACK = timedelta(days=35)  # how far back the scheduled rollup looks for changed days

_UNDONE = ", ".join(sql_literal(s) for s in (OrderStatus.CANCELLED, OrderStatus.REFUNDED))
_PRODUCT, _CATEGORY, _VENDOR, _SHOP = (sql_literal(d) for d in SalesDimension)
_SHOP_KEY = f"CAST({sql_literal(str(SHOP_KEY))} AS uuid)"


def _share(amount: str) -> str:
    """A line's share of an order amount: floor(A*W(k)/T) - floor(A*W(k-1)/T)."""
    return f"(l.{amount}::bigint * l.upto / l.whole - l.{amount}::bigint * l.before / l.whole)"


# A group of `shares` rows (s) measured: the same for every dimension.
_MEASURES = """
    sum(s.quantity) AS units, sum(s.gross) AS gross, sum(s.discounts) AS discounts,
    sum(s.tax) AS tax, count(DISTINCT s.order_id) AS orders,
    count(DISTINCT s.customer_id) AS customers,
    count(DISTINCT s.order_id) FILTER (WHERE s.undone) AS cancellations,
    count(DISTINCT s.order_id) FILTER (WHERE s.refund) AS refunds,
    sum(s.refunded) AS refunded, sum(s.captured) AS captured"""

# The day's lines with their shares, grouped for each dimension apart and upserted; then the
# day's other rows deleted. Weights: total_price, or 1 per line for an order whose lines total
# 0. A GROUP BY of its own per dimension sorts that dimension's lines on its key alone: four
# smaller sorts instead of one over all the keyed lines on the dimension's name and the key.
# A category's ancestors are the categories whose path is a prefix of its own ('/a', '/a/b' and
# '/a/b/c' itself for '/a/b/c'): each prefix is spelled out and matched by equality, which a
# hash join can do (a prefix test, LIKE or starts_with, is a nested loop over every pair).
_ROLLUP = Statement(
    f"""
    WITH placed AS (
        SELECT o.id, o.customer_id, o.currency, o.discount_amount, o.tax_amount,
               COALESCE(p.refunded_amount, 0) AS refunded_amount,
               CASE WHEN p.captured_at IS NOT NULL THEN p.amount ELSE 0 END AS captured_amount,
               o.status IN ({_UNDONE}) AS undone, COALESCE(p.refunded_amount, 0) > 0 AS refund
        FROM {ORDERS} o LEFT JOIN {PAYMENTS} p ON p.order_id = o.id
        WHERE o.created_at >= :start AND o.created_at < :end
    ),
    weighed AS (
        SELECT o.*, i.product_id, i.quantity, i.total_price,
               sum(i.total_price) OVER running AS upto_price,
               sum(i.total_price) OVER whole_order AS order_price,
               row_number() OVER running AS upto_lines, count(*) OVER whole_order AS order_lines
        FROM placed o JOIN {ITEMS} i ON i.order_id = o.id
        WINDOW whole_order AS (PARTITION BY i.order_id),
               running AS (PARTITION BY i.order_id ORDER BY i.id ROWS UNBOUNDED PRECEDING)
    ),
    lines AS (
        SELECT w.*,
               CASE WHEN order_price = 0 THEN upto_lines ELSE upto_price END AS upto,
               CASE WHEN order_price = 0 THEN upto_lines - 1
                    ELSE upto_price - total_price END AS before,
               CASE WHEN order_price = 0 THEN order_lines ELSE order_price END AS whole
        FROM weighed w
    ),
    shares AS (
        SELECT l.id AS order_id, l.customer_id, l.currency, l.undone, l.refund, l.product_id,
               l.quantity, l.total_price AS gross, {_share("discount_amount")} AS discounts,
               {_share("tax_amount")} AS tax, {_share("refunded_amount")} AS refunded,
               {_share("captured_amount")} AS captured
        FROM lines l
    ),
    ancestry AS (
        SELECT DISTINCT pc.product_id, a.id AS category_id
        FROM {product_categories.name} pc
        JOIN {Category.__tablename__} c ON c.id = pc.category_id
        CROSS JOIN LATERAL unnest(string_to_array(c.path, '/')) WITH ORDINALITY AS part(slug, n)
        JOIN {Category.__tablename__} a
          ON a.path = array_to_string((string_to_array(c.path, '/'))[1:part.n], '/')
        WHERE pc.product_id IN (SELECT DISTINCT product_id FROM shares)
    ),
    grouped AS (
        SELECT {_PRODUCT} AS dimension, s.product_id AS key, s.currency, {_MEASURES}
        FROM shares s
        GROUP BY s.product_id, s.currency
        UNION ALL
        SELECT {_VENDOR}, p.vendor_id, s.currency, {_MEASURES}
        FROM shares s JOIN {Product.__tablename__} p ON p.id = s.product_id
        GROUP BY p.vendor_id, s.currency
        UNION ALL
        SELECT {_CATEGORY}, a.category_id, s.currency, {_MEASURES}
        FROM shares s JOIN ancestry a ON a.product_id = s.product_id
        GROUP BY a.category_id, s.currency
        UNION ALL
        SELECT {_SHOP}, {_SHOP_KEY}, s.currency, {_MEASURES}
        FROM shares s
        GROUP BY s.currency
    ),
    written AS (
        INSERT INTO {SALES} AS d (day, dimension, key, currency, units, gross, discounts, tax,
                                  net, orders, customers, cancellations, refunds, refunded,
                                  captured, updated_at)
        SELECT CAST(:day AS date), dimension, key, currency, units, gross, discounts, tax,
               gross - discounts, orders, customers, cancellations, refunds, refunded, captured,
               now()
        FROM grouped
        ON CONFLICT (day, dimension, key, currency) DO UPDATE SET
            units = EXCLUDED.units, gross = EXCLUDED.gross, discounts = EXCLUDED.discounts,
            tax = EXCLUDED.tax, net = EXCLUDED.net, orders = EXCLUDED.orders,
            customers = EXCLUDED.customers, cancellations = EXCLUDED.cancellations,
            refunds = EXCLUDED.refunds, refunded = EXCLUDED.refunded,
            captured = EXCLUDED.captured, updated_at = EXCLUDED.updated_at
        RETURNING d.dimension, d.key, d.currency
    ),
    stale AS (
        DELETE FROM {SALES} d
        WHERE d.day = CAST(:day AS date) AND NOT EXISTS (
            SELECT 1 FROM written w
            WHERE w.dimension = d.dimension AND w.key = d.key AND w.currency = d.currency
        )
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM written) AS written, (SELECT count(*) FROM stale) AS deleted
    """
)
# Local days from :since on with orders changed after the day's rows were written (less the
# settle margin), or with orders and no rows.
_DIRTY = Statement(
    f"""
    WITH changed AS (
        SELECT CAST(o.created_at AT TIME ZONE CAST(:zone AS text) AS date) AS day,
               max(GREATEST(o.updated_at, p.updated_at)) AS changed_at
        FROM {ORDERS} o LEFT JOIN {PAYMENTS} p ON p.order_id = o.id
        WHERE o.created_at >= :start AND o.created_at < :end
        GROUP BY 1
    ),
    rolled AS (
        SELECT day, min(updated_at) AS written_at FROM {SALES}
        WHERE day >= CAST(:since AS date) GROUP BY day
    )
    SELECT c.day FROM changed c LEFT JOIN rolled r ON r.day = c.day
    WHERE r.written_at IS NULL OR c.changed_at > r.written_at - CAST(:settle AS interval)
    ORDER BY c.day
    """
)


@dataclass(frozen=True)
class Rolled:
    """One day rolled up: its rows written (inserted or updated) and its stale rows deleted."""

    day: date
    written: int
    deleted: int


def bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants (UTC) the shop-local `day` starts and ends: a DST day is 23 or 25 hours."""
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)


def rollup(session: Session, day: date, zone: ZoneInfo) -> Rolled:
    """Recompute the shop-local `day`'s rows of every dimension from its orders, exactly."""
    start, end = bounds(day, zone)
    row = _ROLLUP.run(session, {"day": day, "start": start, "end": end}).one()
    return Rolled(day, int(row.written), int(row.deleted))


def dirty_days(
    session: Session, zone: ZoneInfo, since: date, until: date, settle: timedelta = SETTLE
) -> list[date]:
    """The local days from `since` to `until` (inclusive) to roll up again: with an order (or
    its payment) changed after the day's rows were written less `settle`, or with orders and
    no rows yet."""
    start, end = bounds(since, zone)[0], bounds(until, zone)[1]
    params = {"zone": zone.key, "since": since, "start": start, "end": end, "settle": settle}
    return [row.day for row in _DIRTY.run(session, params)]
