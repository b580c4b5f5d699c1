"""Builders and readers for the daily sales tests (`test_rollups.py`): a shop of orders placed
through the handlers over three days around New York's DST change, the rows as an operator
reads them, and the same measures aggregated straight from the orders with other SQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from domain import steps
from domain.contracts import Slot
from domain.db import session_factory, unit_of_work
from domain.handlers import JobPolicy, run_step
from domain.models import SHOP_KEY
from domain.services import analytics
from tests import factories
from tests.integration.pipeline_helpers import (
    Pipeline,
    place_cmd,
    rows,
    stock_products,
    stock_variant,
)

NEW_YORK = ZoneInfo("America/New_York")
OCT31, NOV1, NOV2 = date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)
MEASURES = (
    "units, gross, discounts, tax, net, orders, customers, cancellations, refunds, refunded,"
    " captured"
)

Key = tuple[Any, ...]  # (day, dimension, key, currency)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


def open_shop(pipeline: Pipeline, engine: Engine) -> dict[str, str]:
    """The catalog and six orders over Oct 31 - Nov 2 (New York); the orders' ids by key."""
    pipeline.jobs = JobPolicy(zone=NEW_YORK)
    stock_products(engine, {"TEE-1": 100, "HAT-1": 100}, price=1250)  # vendor 1
    stock_products(engine, {"MUG-1": 100, "SOCK-1": 100}, price=899)  # vendor 2
    stock_products(engine, {"TEE-EU": 100, "MUG-EU": 100}, price=799, currency="EUR")
    _variant_and_categories(engine)
    return {
        "o1": order(pipeline, "o1", {"TEE-1": 2, "MUG-1": 1}, local(OCT31, 10), tax=300, off=150),
        "o2": order(
            pipeline,
            "o2",
            {"TEE-1-RED": 1, "HAT-1": 3},
            local(NOV1, 0, 30),
            tax=77,
            off=101,
            email="o1@example.com",
        ),  # o1's customer again
        "o3": order(pipeline, "o3", {"TEE-1": 1, "SOCK-1": 2}, local(NOV1, 23, 30), cancel=True),
        "o4": order(pipeline, "o4", {"TEE-EU": 1, "MUG-EU": 2}, local(NOV1, 12), "EUR", tax=190),
        "o5": order(pipeline, "o5", {"HAT-1": 1}, local(NOV2, 0, 30), refund=True),
        "o6": order(pipeline, "o6", {"MUG-EU": 4}, local(NOV2, 15), "EUR"),
    }


def _variant_and_categories(engine: Engine) -> None:
    """TEE-1-RED (+2.50); /apparel > /apparel/tops > /apparel/tops/tees and /home. TEE-1 sits in
    tees and in apparel itself (it must count once for apparel), HAT-1 in apparel, MUG-1 in
    home, SOCK-1 in none; the EUR products are vendor 2's, TEE-EU in tees, MUG-EU in home."""
    stock_variant(engine, "TEE-1", "TEE-1-RED", adjustment=250, on_hand=100)
    with Session(engine) as s, s.begin():
        apparel = factories.category(s, "apparel")
        tees = factories.category(s, "tees", factories.category(s, "tops", apparel))
        home = factories.category(s, "home")
        ids = {"apparel": apparel.id, "tees": tees.id, "home": home.id}
    link = "INSERT INTO product_categories SELECT id, :category FROM products WHERE sku = :sku"
    with engine.begin() as conn:
        for sku, slug in (
            ("TEE-1", "tees"),
            ("TEE-1", "apparel"),
            ("HAT-1", "apparel"),
            ("MUG-1", "home"),
            ("TEE-EU", "tees"),
            ("MUG-EU", "home"),
        ):
            conn.execute(text(link), {"sku": sku, "category": ids[slug]})
        vendor2 = "(SELECT vendor_id FROM products WHERE sku = 'MUG-1')"
        conn.execute(text(f"UPDATE products SET vendor_id = {vendor2} WHERE currency = 'EUR'"))


def order(
    pipeline: Pipeline,
    key: str,
    lines: dict[str, int],
    at: datetime,
    currency: str = "USD",
    *,
    tax: int = 0,
    off: int = 0,
    email: str | None = None,
    cancel: bool = False,
    refund: bool = False,
) -> str:
    """An order placed and driven through the handlers (cancelled before its capture, or
    refunded after it, if asked), then moved to `at` with its tax and discount; its id."""
    placed, placed_steps = pipeline.place(place_cmd(key, lines, currency=currency, email=email))
    until = steps.CAPTURE if cancel else steps.FULFIL if refund else None
    left = pipeline.drain(placed_steps, until=until)
    if cancel or refund:
        pipeline.drain([*left, *pipeline.cancel(placed.order_number)[1]])
    with pipeline.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE orders SET created_at = :at, tax_amount = :tax, discount_amount = :off,"
                " total_amount = subtotal + :tax + shipping_cost - :off WHERE id = :id"
            ),
            {"at": at, "tax": tax, "off": off, "id": placed.order_id},
        )
    return placed.order_id


def rebuild(engine: Engine, first: date, last: date) -> None:
    factory = session_factory(engine)
    for n in range((last - first).days + 1):
        with unit_of_work(factory) as session:
            analytics.rollup(session, first + timedelta(days=n), NEW_YORK)


def sales(engine: Engine) -> dict[Key, tuple[int, ...]]:
    """Every daily_sales row: its measures by (day, dimension, key, currency)."""
    found = rows(engine, f"SELECT day, dimension, key, currency, {MEASURES} FROM daily_sales")
    return {tuple(r[:4]): tuple(r[4:]) for r in found}


def stamps(engine: Engine) -> dict[Key, datetime]:
    found = rows(engine, "SELECT day, dimension, key, currency, updated_at FROM daily_sales")
    return {tuple(r[:4]): r[4] for r in found}


# The measures from the orders, written apart from the service: ancestors by walking
# parent_id (not path), a line's weights by correlated sums, the local day by AT TIME ZONE,
# the shop's rows as one more key every line has.
EXPECTED = """
WITH RECURSIVE up(category_id, ancestor_id) AS (
    SELECT id, id FROM categories
    UNION
    SELECT up.category_id, c.parent_id FROM up JOIN categories c ON c.id = up.ancestor_id
    WHERE c.parent_id IS NOT NULL
),
line AS (
    SELECT (o.created_at AT TIME ZONE :zone)::date AS day, o.id AS order_id, o.customer_id,
           o.currency, i.product_id, i.quantity, i.total_price,
           o.status IN ('cancelled', 'refunded') AS undone,
           COALESCE(p.refunded_amount, 0) AS refunded_amount, o.discount_amount, o.tax_amount,
           CASE WHEN p.captured_at IS NULL THEN 0 ELSE p.amount END AS captured_amount,
           (SELECT sum(j.total_price) FROM order_items j
             WHERE j.order_id = i.order_id AND j.id <= i.id) AS upto,
           (SELECT COALESCE(sum(j.total_price), 0) FROM order_items j
             WHERE j.order_id = i.order_id AND j.id < i.id) AS before,
           (SELECT sum(j.total_price) FROM order_items j WHERE j.order_id = i.order_id) AS whole
    FROM order_items i JOIN orders o ON o.id = i.order_id
    LEFT JOIN payments p ON p.order_id = o.id
),
share AS (
    SELECT l.*, div(discount_amount * upto, whole) - div(discount_amount * before, whole) AS d,
           div(tax_amount * upto, whole) - div(tax_amount * before, whole) AS t,
           div(refunded_amount * upto, whole) - div(refunded_amount * before, whole) AS r,
           div(captured_amount * upto, whole) - div(captured_amount * before, whole) AS c
    FROM line l
),
keyed AS (
    SELECT 'product' AS dimension, product_id AS key, s.* FROM share s
    UNION ALL
    SELECT 'vendor', p.vendor_id, s.* FROM share s JOIN products p ON p.id = s.product_id
    UNION ALL
    SELECT 'category', a.ancestor_id, s.* FROM share s JOIN (
        SELECT DISTINCT pc.product_id, up.ancestor_id
        FROM product_categories pc JOIN up ON up.category_id = pc.category_id
    ) a ON a.product_id = s.product_id
    UNION ALL
    SELECT 'shop', '00000000-0000-0000-0000-000000000000', s.* FROM share s
)
SELECT day, dimension, key, currency, sum(quantity), sum(total_price), sum(d), sum(t),
       sum(total_price) - sum(d), count(DISTINCT order_id), count(DISTINCT customer_id),
       count(DISTINCT order_id) FILTER (WHERE undone),
       count(DISTINCT order_id) FILTER (WHERE refunded_amount > 0), sum(r), sum(c)
FROM keyed GROUP BY day, dimension, key, currency
"""


def expected(engine: Engine) -> dict[Key, tuple[int, ...]]:
    found = rows(engine, EXPECTED, zone=NEW_YORK.key)
    return {tuple(r[:4]): tuple(int(v) for v in r[4:]) for r in found}


def row(engine: Engine, day: date, dimension: str, name: str, currency: str) -> dict[str, int]:
    """One row's measures; `name`: a SKU, a category's slug, a vendor's business name, or
    anything for the shop's row."""
    key = {
        "product": "SELECT id FROM products WHERE sku = :name",
        "category": "SELECT id FROM categories WHERE slug = :name",
        "vendor": "SELECT id FROM vendors WHERE business_name = :name",
        "shop": f"SELECT CAST('{SHOP_KEY}' AS uuid)",
    }[dimension]
    found = rows(
        engine,
        f"SELECT {MEASURES} FROM daily_sales WHERE day = :day AND dimension = :dimension"
        f" AND currency = :currency AND key = ({key})",
        day=day,
        dimension=dimension,
        currency=currency,
        name=name,
    )
    return dict(found[0]._mapping) if found else {}


def vendor_of(engine: Engine, sku: str) -> str:
    found = rows(
        engine,
        "SELECT v.business_name FROM products p JOIN vendors v ON v.id = p.vendor_id"
        " WHERE p.sku = :sku",
        sku=sku,
    )
    return str(found[0].business_name)


def age_orders(engine: Engine, by: timedelta = timedelta(hours=1)) -> None:
    """Every order's and payment's `updated_at` moved back (the touch trigger off)."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in ("orders", "payments"):
            conn.execute(text(f"UPDATE {table} SET updated_at = updated_at - :by"), {"by": by})


def run_rollup(pipeline: Pipeline, task: str, slot: datetime) -> dict[str, Any]:
    """The job as the beat sends it: the entry and the slot."""
    result: dict[str, Any] = run_step(pipeline.ports, task, Slot(entry="beat", slot=slot)).value()
    return result


def row_share(engine: Engine, key: str, sku: str, amount: int) -> int:
    """The share of `amount` the line `sku` of order `key` gets (running-total rounding)."""
    found = rows(
        engine,
        "SELECT i.product_sku, i.total_price FROM order_items i JOIN orders o"
        " ON o.id = i.order_id WHERE o.idempotency_key = :key ORDER BY i.id",
        key=key,
    )
    whole, upto = sum(r.total_price for r in found), 0
    for r in found:
        before, upto = upto, upto + r.total_price
        if r.product_sku == sku:
            return amount * upto // whole - amount * before // whole
    raise AssertionError(f"no line {sku} in {key}")


def _payment(engine: Engine, key: str) -> Any:
    found = rows(
        engine,
        "SELECT p.amount, p.captured_at, p.refunded_amount FROM payments p"
        " JOIN orders o ON o.id = p.order_id WHERE o.idempotency_key = :key",
        key=key,
    )
    return found[0]


def refunded(engine: Engine, key: str) -> int:
    return int(_payment(engine, key).refunded_amount)


def captured(engine: Engine, key: str) -> int:
    """What the payment of order `key` charged: its amount once captured, else 0."""
    payment = _payment(engine, key)
    return int(payment.amount) if payment.captured_at is not None else 0
