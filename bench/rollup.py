"""Benchmark (not a test): the daily sales rollup against one plain INSERT ... SELECT.

    .venv/bin/python bench/rollup.py [--items 1000000] [--days 30] [--database URL]
        [--zone America/New_York] [--rounds 2] [--keep]

Builds a throwaway database (CREATE DATABASE on the server of `--database`, default
BACKROOM_DATABASE_URL, migrated to head, dropped at the end unless `--keep`) holding `--days`
shop-local days of orders with at least `--items` order lines, generated in SQL: 50 vendors,
5,000 products in a 3-level category tree (some in two categories), 20,000 customers, orders
of 1-5 lines in USD and EUR, a payment per order (some refunded in full or in part), some
orders cancelled, one sale day with about four times the orders of the others. Then, in
alternating rounds (`--rounds`, default 2; each figure is the median):

1. `domain.services.analytics.rollup(session, day, zone)` for each day, one transaction per
   day (daily_sales is emptied before each round, so every round writes the same rows);
2. one plain `INSERT INTO bench_plain_sales SELECT ... GROUP BY ...` over the same days: units,
   gross, distinct orders and customers per local day, dimension (product, vendor, category
   with its ancestors by path prefix, and the whole shop), key and currency, without the
   rollup's allocated shares (discounts, tax, refunds, captured), cancellations or upsert;
3. the nightly report of the busiest day built as `reports.nightly` builds it
   (`domain.handlers.jobs.build_report`: the check for changed days, the numbers read, the
   HTML page with its chart and the CSV files rendered and saved to a temporary folder).

The shared measures (units, gross, orders, customers) of both are compared at the end. The
last line is `rollup/plain = X.XX` (the target is at most 1.5).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import Connection, Engine, text

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import migrations  # noqa: E402
from domain.db import (  # noqa: E402
    make_engine,
    session_factory,
    to_url,
    unit_of_work,
)
from domain.handlers import JobPolicy  # noqa: E402
from domain.handlers.jobs import build_report  # noqa: E402
from domain.models import SHOP_KEY  # noqa: E402
from domain.services.analytics import bounds, rollup  # noqa: E402

RUN = uuid.uuid4().hex[:8]
NAME = f"backroom_bench_rollup_{RUN}"
FIRST_DAY = date(2026, 10, 15)  # 30 days from here cross the end of DST (a 25-hour day)
VENDORS, PRODUCTS, CUSTOMERS = 50, 5000, 20000
ROOTS, FANOUT = 8, 5  # 8 top categories, 40 below them, 200 leaves
STRIDE = 977  # an order's lines are products p, p+977, ...: distinct while 4 * 977 < PRODUCTS
PLAIN = "bench_plain_sales"


def admin(server: str) -> Engine:
    url = to_url(server).set(database="postgres")
    return make_engine(url, pool_size=0).execution_options(isolation_level="AUTOCOMMIT")


def create(server: str) -> str:
    """A fresh database for this run, migrated to head."""
    with admin(server).connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{NAME}"'))
    database = to_url(server).set(database=NAME).render_as_string(hide_password=False)
    command.upgrade(migrations.config(database), "head")
    return database


def drop(server: str) -> None:
    with admin(server).connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))


def _people(conn: Connection) -> None:
    conn.execute(
        text(
            f"""
            WITH u AS (
                INSERT INTO users (email, username, first_name, last_name, status, user_type)
                SELECT 'vendor' || g || '@bench.example', 'vendor' || g, 'Vendor', 'No' || g,
                       'active', 'vendor'
                FROM generate_series(1, {VENDORS}) g
                RETURNING id, username
            )
            INSERT INTO vendors (id, business_name, is_verified)
            SELECT id, 'Business of ' || username, true FROM u
            """
        )
    )
    conn.execute(
        text(
            f"""
            WITH u AS (
                INSERT INTO users (email, username, first_name, last_name, status, user_type)
                SELECT 'customer' || g || '@bench.example', 'customer' || g, 'Customer',
                       'No' || g, 'active', 'customer'
                FROM generate_series(1, {CUSTOMERS}) g
                RETURNING id
            )
            INSERT INTO customers (id) SELECT id FROM u
            """
        )
    )


def _catalog(conn: Connection) -> None:
    # parents before children: the `categories_tree` trigger reads the parent's path
    conn.execute(
        text(
            f"""
            INSERT INTO categories (name, slug, display_order)
            SELECT 'Category ' || g, 'c' || g, g FROM generate_series(1, {ROOTS}) g
            """
        )
    )
    for level in (1, 2):
        conn.execute(
            text(
                f"""
                INSERT INTO categories (name, slug, parent_id, display_order)
                SELECT 'Category ' || c.slug || '-' || g, c.slug || '-' || g, c.id, g
                FROM categories c CROSS JOIN generate_series(1, {FANOUT}) g
                WHERE c.level = {level - 1}
                """
            )
        )
    conn.execute(
        text(
            f"""
            INSERT INTO products (name, slug, sku, vendor_id, base_price, currency, status)
            SELECT 'Product ' || g, 'product-' || g, 'BENCH-' || lpad(g::text, 6, '0'),
                   v.id, 199 + (g * 7919) % 20000, 'USD', 'active'
            FROM generate_series(1, {PRODUCTS}) g
            JOIN (SELECT id, row_number() OVER (ORDER BY username) - 1 AS n
                  FROM users WHERE user_type = 'vendor') v ON v.n = g % {VENDORS}
            """
        )
    )
    # every product in one leaf; every tenth in a second leaf too (often of another subtree)
    conn.execute(
        text(
            """
            WITH p AS (SELECT id, row_number() OVER (ORDER BY sku) AS n FROM products),
            leaf AS (SELECT id, row_number() OVER (ORDER BY path) - 1 AS n FROM categories
                     WHERE level = 2),
            leaves AS (SELECT count(*) AS n FROM leaf)
            INSERT INTO product_categories (product_id, category_id)
            SELECT DISTINCT p.id, leaf.id FROM p, leaves, leaf
            WHERE leaf.n = p.n % leaves.n
               OR (p.n % 10 = 0 AND leaf.n = (p.n * 7 + 3) % leaves.n)
            """
        )
    )


def _orders(conn: Connection, items: int, days: int, zone: str) -> None:
    conn.execute(text("SELECT setseed(0.42)"))
    sale = days * 2 // 3
    conn.execute(
        text(
            f"""
            CREATE TEMP TABLE plan AS
            SELECT g, gen_random_uuid() AS id, 1 + floor(random() * 5)::int AS lines,
                   CASE WHEN random() < 0.1 THEN {sale}
                        ELSE floor(random() * {days})::int END AS day,
                   random() * 86400 AS second,
                   1 + floor(random() * {CUSTOMERS})::int AS customer,
                   floor(random() * random() * {PRODUCTS})::int AS product,
                   CASE WHEN random() < 0.25 THEN 'EUR' ELSE 'USD' END AS currency,
                   random() AS fate, random() < 0.15 AS discounted, random() < 0.5 AS shipped
            FROM generate_series(1, ceil({items} / 2.8)::int) g
            """
        )
    )
    # exactly as many orders as it takes to reach `items` lines
    conn.execute(
        text(
            f"""
            DELETE FROM plan WHERE g > (
                SELECT min(g) FROM (SELECT g, sum(lines) OVER (ORDER BY g) AS upto FROM plan) s
                WHERE upto >= {items})
            """
        )
    )
    conn.execute(
        text(
            f"""
            ALTER TABLE plan ADD COLUMN customer_id uuid, ADD COLUMN created_at timestamptz;
            UPDATE plan SET
                created_at = ((DATE '{FIRST_DAY.isoformat()}' + day)
                              + second * interval '1 second') AT TIME ZONE :zone,
                customer_id = c.id
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM customers) c
            WHERE c.n = plan.customer;
            CREATE TEMP TABLE product_no AS
            SELECT row_number() OVER (ORDER BY sku) - 1 AS n, id, sku, name, base_price
            FROM products;
            CREATE TEMP TABLE line AS
            SELECT p.id AS order_id, p.created_at, k, pr.id AS product_id, pr.sku, pr.name,
                   1 + floor(random() * 3)::int AS quantity, pr.base_price AS unit_price
            FROM plan p CROSS JOIN generate_series(1, p.lines) k
            JOIN product_no pr ON pr.n = (p.product + k * {STRIDE}) % {PRODUCTS};
            CREATE TEMP TABLE placed AS
            SELECT p.*, s.subtotal, s.subtotal * 8 / 100 AS tax,
                   CASE WHEN p.shipped THEN 0 ELSE 599 END AS shipping,
                   CASE WHEN p.discounted THEN s.subtotal / 10 ELSE 0 END AS discount,
                   CASE WHEN p.fate < 0.05 THEN 'cancelled'
                        WHEN p.fate < 0.07 THEN 'refunded'
                        WHEN p.fate < 0.80 THEN 'delivered'
                        ELSE 'shipped' END AS status
            FROM plan p
            JOIN (SELECT order_id, sum(quantity * unit_price) AS subtotal FROM line
                  GROUP BY order_id) s ON s.order_id = p.id
            """
        ),
        {"zone": zone},
    )
    conn.execute(
        text(
            """
            INSERT INTO orders (id, order_number, idempotency_key, customer_id, status,
                                payment_status, shipping_status, subtotal, tax_amount,
                                shipping_cost, discount_amount, total_amount, customer_email,
                                billing_address, shipping_address, currency, created_at,
                                updated_at, confirmed_at, cancelled_at)
            SELECT p.id,
                   'ORD-' || to_char(p.created_at AT TIME ZONE :zone, 'YYYYMMDD') || '-'
                       || upper(lpad(to_hex(p.g), 6, '0')),
                   'bench-order-' || p.g, p.customer_id, p.status,
                   CASE p.status WHEN 'cancelled' THEN 'cancelled'
                                 WHEN 'refunded' THEN 'refunded'
                                 WHEN 'delivered' THEN
                                     CASE WHEN p.fate > 0.78 THEN 'partially_refunded'
                                          ELSE 'captured' END
                                 ELSE 'captured' END,
                   CASE p.status WHEN 'cancelled' THEN 'pending' WHEN 'shipped' THEN 'shipped'
                                 ELSE 'delivered' END,
                   p.subtotal, p.tax, p.shipping, p.discount,
                   p.subtotal + p.tax + p.shipping - p.discount,
                   'customer' || p.customer || '@bench.example',
                   '{"city": "Testville", "country": "US"}',
                   '{"city": "Testville", "country": "US"}',
                   p.currency, p.created_at, p.created_at + interval '3 days', p.created_at,
                   CASE WHEN p.status = 'cancelled' THEN p.created_at + interval '1 hour' END
            FROM placed p ORDER BY p.created_at
            """
        ),
        {"zone": zone},
    )
    conn.execute(
        text(
            """
            INSERT INTO order_items (order_id, product_id, product_name, product_sku, quantity,
                                     unit_price, total_price, created_at, updated_at)
            SELECT order_id, product_id, name, sku, quantity, unit_price,
                   quantity * unit_price, created_at, created_at
            FROM line ORDER BY created_at, order_id, k
            """
        )
    )
    conn.execute(
        text(
            """
            INSERT INTO payments (order_id, idempotency_key, amount, currency, status, provider,
                                  provider_reference, attempts, authorized_at, captured_at,
                                  refunded_amount, refunded_at, created_at, updated_at)
            SELECT o.id, 'bench-pay-' || p.g, o.total_amount, o.currency, o.payment_status,
                   'bench', 'ref-' || p.g, 1, o.created_at,
                   CASE WHEN o.status <> 'cancelled' THEN o.created_at END,
                   CASE o.payment_status WHEN 'refunded' THEN o.total_amount
                                         WHEN 'partially_refunded' THEN o.total_amount / 3
                                         ELSE 0 END,
                   CASE WHEN o.payment_status IN ('refunded', 'partially_refunded')
                        THEN o.created_at + interval '5 days' END,
                   o.created_at, o.created_at + interval '5 days'
            FROM orders o JOIN plan p ON p.id = o.id ORDER BY o.created_at
            """
        )
    )
    conn.execute(text("DROP TABLE plan, product_no, line, placed"))


def populate(database: str, items: int, days: int, zone: str) -> dict[str, int]:
    engine = make_engine(database, pool_size=0)
    with engine.begin() as conn:
        _people(conn)
        _catalog(conn)
        _orders(conn, items, days, zone)
        conn.execute(
            text(
                f"""
                CREATE TABLE {PLAIN} (
                    day date NOT NULL, dimension text NOT NULL, key uuid NOT NULL,
                    currency varchar(3) NOT NULL, units bigint NOT NULL, gross bigint NOT NULL,
                    orders integer NOT NULL, customers integer NOT NULL,
                    PRIMARY KEY (day, dimension, key, currency))
                """
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        counts = conn.execute(
            text(
                """
                SELECT (SELECT count(*) FROM order_items) AS items,
                       (SELECT count(*) FROM orders) AS orders,
                       (SELECT count(*) FROM orders WHERE status = 'cancelled') AS cancelled,
                       (SELECT count(*) FROM payments WHERE refunded_amount > 0) AS refunded,
                       (SELECT count(*) FROM orders WHERE currency = 'EUR') AS eur,
                       (SELECT count(*) FROM categories) AS categories
                """
            )
        ).one()
    engine.dispose()
    return dict(counts._mapping)


def time_rollup(engine: Engine, days: list[date], zone: ZoneInfo) -> float:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE daily_sales"))
    factory = session_factory(engine)
    started = time.perf_counter()
    for day in days:
        with factory() as session, session.begin():
            rollup(session, day, zone)
    return time.perf_counter() - started


# The honest simplest SQL: the lines of the range, keyed four ways, one GROUP BY.
PLAIN_SQL = f"""
    INSERT INTO {PLAIN} (day, dimension, key, currency, units, gross, orders, customers)
    WITH lines AS (
        SELECT CAST(o.created_at AT TIME ZONE CAST(:zone AS text) AS date) AS day,
               o.id AS order_id, o.customer_id, o.currency, i.product_id, i.quantity,
               i.total_price
        FROM orders o JOIN order_items i ON i.order_id = o.id
        WHERE o.created_at >= :start AND o.created_at < :end
    ),
    ancestry AS (
        SELECT DISTINCT pc.product_id, a.id AS category_id
        FROM product_categories pc
        JOIN categories c ON c.id = pc.category_id
        JOIN categories a ON c.path = a.path OR c.path LIKE a.path || '/%'
    ),
    keyed AS (
        SELECT 'product' AS dimension, l.product_id AS key, l.* FROM lines l
        UNION ALL
        SELECT 'vendor', p.vendor_id, l.* FROM lines l JOIN products p ON p.id = l.product_id
        UNION ALL
        SELECT 'category', a.category_id, l.* FROM lines l JOIN ancestry a USING (product_id)
        UNION ALL
        SELECT 'shop', CAST('{SHOP_KEY}' AS uuid), l.* FROM lines l
    )
    SELECT day, dimension, key, currency, sum(quantity), sum(total_price),
           count(DISTINCT order_id), count(DISTINCT customer_id)
    FROM keyed
    GROUP BY day, dimension, key, currency
"""


def time_plain(engine: Engine, days: list[date], zone: ZoneInfo) -> float:
    start, end = bounds(days[0], zone)[0], bounds(days[-1], zone)[1]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {PLAIN}"))
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(PLAIN_SQL), {"zone": zone.key, "start": start, "end": end})
    return time.perf_counter() - started


def time_report(engine: Engine, day: date, zone: ZoneInfo) -> tuple[float, int]:
    """The nightly report of `day` built in one transaction; seconds, and its files' bytes."""
    with tempfile.TemporaryDirectory() as folder:
        policy = JobPolicy(zone=zone, reports=Path(folder))
        started = time.perf_counter()
        with unit_of_work(session_factory(engine)) as session:
            built = build_report(session, policy, day)
        seconds = time.perf_counter() - started
    return seconds, sum(len(content) for content in built.files.values())


def compare(engine: Engine) -> tuple[int, int]:
    """Rows of the rollup and of the plain statement, and how many differ in a shared measure."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"""
                SELECT count(*) AS rows, count(*) FILTER (WHERE d.day IS NULL OR p.day IS NULL
                    OR (d.units, d.gross, d.orders, d.customers)
                       IS DISTINCT FROM (p.units, p.gross, p.orders, p.customers)) AS differ
                FROM daily_sales d FULL JOIN {PLAIN} p
                  ON (p.day, p.dimension, p.key, p.currency)
                   = (d.day, d.dimension::text, d.key, d.currency)
                """
            )
        ).one()
    return int(row.rows), int(row.differ)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="order lines, at least")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--database", default=os.environ.get("BACKROOM_DATABASE_URL"), help="a PostgreSQL server"
    )
    parser.add_argument("--zone", default="America/New_York", help="the shop's time zone")
    parser.add_argument("--rounds", type=int, default=2, help="rollup and plain, alternating")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    if not args.database:
        raise SystemExit("give --database or set BACKROOM_DATABASE_URL (a PostgreSQL server)")
    zone = ZoneInfo(args.zone)
    days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
    database = create(args.database)
    try:
        started = time.perf_counter()
        counts = populate(database, args.items, args.days, args.zone)
        built = time.perf_counter() - started
        engine = make_engine(database, pool_size=1)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
            work_mem = conn.execute(text("SHOW work_mem")).scalar()
            busiest = conn.execute(
                text(
                    "SELECT CAST(created_at AT TIME ZONE :zone AS date) FROM orders "
                    "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                ),
                {"zone": args.zone},
            ).scalar_one()
        print(
            f"{os.cpu_count()} cores, PostgreSQL {version} (work_mem {work_mem}), "
            f"zone {args.zone}, {days[0]} .. {days[-1]}"
        )
        print(
            f"{counts['items']:,} order items in {counts['orders']:,} orders "
            f"({counts['cancelled']:,} cancelled, {counts['refunded']:,} refunded in full or in "
            f"part, {counts['eur']:,} in EUR), {PRODUCTS:,} products, {VENDORS} vendors, "
            f"{counts['categories']} categories, {CUSTOMERS:,} customers; built in {built:.0f} s"
        )
        rolled, plain, reads = [], [], []
        for round_ in range(args.rounds):  # alternating, so a drifting machine hits both alike
            rolled.append(time_rollup(engine, days, zone))
            seconds, size = time_report(engine, busiest, zone)
            reads.append(seconds)
            plain.append(time_plain(engine, days, zone))
            print(
                f"round {round_ + 1}/{args.rounds}: rollup {rolled[-1]:.2f} s "
                f"({args.days} days, one transaction each), plain {plain[-1]:.2f} s, "
                f"rollup/plain {rolled[-1] / plain[-1]:.2f}; report of the busiest day "
                f"{busiest} built in {seconds:.2f} s ({size / 1024:,.0f} KiB of files)"
            )
        total, differ = compare(engine)
        engine.dispose()
        print(
            f"units, gross, orders, customers: {differ} of {total:,} rows differ between the "
            "rollup and the plain statement"
        )
        print(
            f"medians: rollup {statistics.median(rolled):.2f} s, plain "
            f"{statistics.median(plain):.2f} s, report of the busiest day "
            f"{statistics.median(reads):.2f} s"
        )
        print(f"rollup/plain = {statistics.median(rolled) / statistics.median(plain):.2f}")
    finally:
        if args.keep:
            print(f"kept {database}")
        else:
            drop(args.database)


if __name__ == "__main__":
    main()
