"""Daily sales rollups on a real PostgreSQL: orders placed through the handlers over three days
around New York's DST change (2026-11-01 is 25 hours long), in USD and EUR, with a variant,
products in a category subtree, two vendors, a cancellation and refunds. The rows (the shop's
rows and the captured amounts among them) must equal a straight aggregation of the orders
(other SQL, the same definitions: see `domain.models.analytics`), stay so when run again or
rebuilt, and follow a late refund."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from domain import steps
from domain.services import analytics
from tests.integration.pipeline_helpers import Pipeline, place_cmd, rows
from tests.integration.rollup_helpers import (
    NEW_YORK,
    NOV1,
    NOV2,
    OCT31,
    age_orders,
    captured,
    expected,
    local,
    open_shop,
    order,
    rebuild,
    refunded,
    row,
    row_share,
    run_rollup,
    sales,
    stamps,
    vendor_of,
)
from tests.integration.test_cli import backroom, explain


@pytest.fixture
def shop(pipeline: Pipeline, engine: Engine) -> dict[str, str]:
    """The catalog and six orders over Oct 31 - Nov 2 (New York); the orders' ids by key."""
    return open_shop(pipeline, engine)


# --- the measures ------------------------------------------------------------------------------


def test_given_three_days_of_orders_when_rolled_up_then_rows_equal_a_straight_aggregation(
    shop: dict[str, str], engine: Engine
) -> None:
    rebuild(engine, OCT31, NOV2)

    found = sales(engine)
    assert found == expected(engine)
    assert {day for day, *_ in found} == {OCT31, NOV1, NOV2}
    # Nov 1, USD: o2 (TEE-1-RED x1 at 15.00, HAT-1 x3) and o3 (TEE-1 x1, SOCK-1 x2, cancelled)
    assert row(engine, NOV1, "product", "TEE-1", "USD") == {
        "units": 2,
        "gross": 1500 + 1250,
        "discounts": row_share(engine, "o2", "TEE-1-RED", 101),
        "tax": row_share(engine, "o2", "TEE-1-RED", 77),
        "net": 2750 - row_share(engine, "o2", "TEE-1-RED", 101),
        "orders": 2,
        "customers": 2,
        "cancellations": 1,
        "refunds": 0,
        "refunded": 0,
        "captured": row_share(engine, "o2", "TEE-1-RED", captured(engine, "o2")),  # o3: none
    }
    apparel = row(engine, NOV1, "category", "apparel", "USD")  # TEE-1 in two of its categories
    assert (apparel["units"], apparel["gross"]) == (1 + 3 + 1, 1500 + 3 * 1250 + 1250)
    assert (apparel["orders"], apparel["customers"], apparel["cancellations"]) == (2, 2, 1)
    assert (apparel["discounts"], apparel["tax"]) == (101, 77)  # all of o2's lines are apparel
    assert row(engine, NOV1, "category", "tops", "USD")["units"] == 2  # tees' sales count too
    assert row(engine, NOV1, "category", "home", "USD") == {}  # home sold only in EUR that day
    assert row(engine, NOV1, "category", "home", "EUR")["gross"] == 2 * 799
    assert row(engine, NOV1, "category", "apparel", "EUR")["gross"] == 799  # TEE-EU, apart
    vendor2 = vendor_of(engine, "SOCK-1")  # sells in both currencies, never added together
    assert row(engine, NOV1, "vendor", vendor2, "USD")["gross"] == 2 * 899  # o3's socks
    assert row(engine, NOV1, "vendor", vendor2, "EUR")["gross"] == 3 * 799  # o4
    assert row(engine, NOV2, "vendor", vendor2, "EUR")["units"] == 4  # o6
    hat = row(engine, NOV2, "product", "HAT-1", "USD")  # o5: paid, cancelled, refunded in full
    assert (hat["cancellations"], hat["refunds"], hat["refunded"]) == (1, 1, refunded(engine, "o5"))


def test_given_a_day_then_its_shop_row_counts_orders_once_and_what_their_payments_charged(
    shop: dict[str, str], pipeline: Pipeline, engine: Engine
) -> None:
    # Nov 1, USD: o2 (TEE-1-RED, HAT-1), o3 (TEE-1, SOCK-1; cancelled before its capture) and
    # o7 (MUG-1) by o3's customer
    order(pipeline, "o7", {"MUG-1": 1}, local(NOV1, 18), email="o3@example.com")
    rebuild(engine, OCT31, NOV2)

    oct31 = row(engine, OCT31, "shop", "", "USD")  # o1: TEE-1 (vendor 1) and MUG-1 (vendor 2)
    assert (oct31["orders"], oct31["customers"], oct31["units"]) == (1, 1, 3)
    assert (oct31["gross"], oct31["discounts"], oct31["tax"]) == (2500 + 899, 150, 300)
    vendors = [
        row(engine, OCT31, "vendor", vendor_of(engine, sku), "USD") for sku in ("TEE-1", "MUG-1")
    ]
    assert [v["orders"] for v in vendors] == [1, 1]  # in both vendors' rows, once in the shop's
    nov1 = row(engine, NOV1, "shop", "", "USD")
    assert (nov1["orders"], nov1["customers"], nov1["cancellations"]) == (3, 2, 1)
    vendor2 = row(engine, NOV1, "vendor", vendor_of(engine, "SOCK-1"), "USD")  # o3 and o7
    assert (vendor2["orders"], vendor2["customers"]) == (2, 1)
    products = [row(engine, NOV1, "product", sku, "USD") for sku in ("TEE-1", "HAT-1", "SOCK-1")]
    assert [p["orders"] for p in products] == [2, 1, 1]
    assert products[2]["captured"] == 0  # SOCK-1 sold only in o3, never captured
    charged = rows(
        engine,
        "SELECT CAST(o.created_at AT TIME ZONE :zone AS date) AS day, o.currency,"
        " COALESCE(sum(p.amount) FILTER (WHERE p.captured_at IS NOT NULL), 0) AS amount"
        " FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY 1, 2",
        zone=NEW_YORK.key,
    )
    assert {(c.day, c.currency): c.amount for c in charged} == {
        (day, currency): measures[-1]
        for (day, dimension, _, currency), measures in sales(engine).items()
        if dimension == "shop"
    }
    assert nov1["captured"] == sum(captured(engine, key) for key in ("o2", "o3", "o7"))
    assert captured(engine, "o3") == 0 < captured(engine, "o2")
    nov2 = row(engine, NOV2, "shop", "", "USD")  # o5: captured, then refunded in full
    assert nov2["captured"] == nov2["refunded"] == captured(engine, "o5") > 0


def test_given_an_order_with_a_discount_and_tax_then_its_lines_shares_add_up_to_them(
    shop: dict[str, str], engine: Engine
) -> None:
    rebuild(engine, OCT31, OCT31)  # o1 only: TEE-1 x2 (25.00), MUG-1 x1 (8.99)

    tee = row(engine, OCT31, "product", "TEE-1", "USD")
    mug = row(engine, OCT31, "product", "MUG-1", "USD")

    assert (tee["discounts"] + mug["discounts"], tee["tax"] + mug["tax"]) == (150, 300)
    assert abs(tee["discounts"] - 150 * 2500 / 3399) < 1  # within a cent of its exact share
    assert abs(tee["tax"] - 300 * 2500 / 3399) < 1
    assert (tee["net"], mug["net"]) == (2500 - tee["discounts"], 899 - mug["discounts"])
    vendors = [
        row(engine, OCT31, "vendor", vendor_of(engine, sku), "USD") for sku in ("TEE-1", "MUG-1")
    ]
    assert [v["discounts"] for v in vendors] == [tee["discounts"], mug["discounts"]]


def test_given_rolled_up_days_when_run_again_or_an_order_moves_day_then_rows_stay_exact(
    shop: dict[str, str], engine: Engine
) -> None:
    rebuild(engine, OCT31, NOV2)
    first = sales(engine)

    rebuild(engine, OCT31, NOV2)
    assert sales(engine) == first == expected(engine)

    with engine.begin() as conn:  # o6 (MUG-EU x4) was in fact placed on Oct 31
        conn.execute(
            text("UPDATE orders SET created_at = :at WHERE id = :id"),
            {"at": local(OCT31, 9), "id": shop["o6"]},
        )
    rebuild(engine, OCT31, NOV2)

    assert sales(engine) == expected(engine)
    assert row(engine, NOV2, "product", "MUG-EU", "EUR") == {}  # the stale row was deleted
    assert row(engine, OCT31, "product", "MUG-EU", "EUR")["units"] == 4


def test_given_the_25_hour_dst_day_in_new_york_then_its_first_and_last_half_hours_are_in_it(
    shop: dict[str, str], engine: Engine
) -> None:
    start, end = analytics.bounds(NOV1, NEW_YORK)
    rebuild(engine, NOV1, NOV2)

    assert end - start == timedelta(hours=25)
    tee = row(engine, NOV1, "product", "TEE-1", "USD")  # o2 at 00:30 EDT, o3 at 23:30 EST
    assert (tee["orders"], tee["units"]) == (2, 2)
    hat = row(engine, NOV2, "product", "HAT-1", "USD")  # o5 at 00:30 EST the next day
    assert (hat["orders"], hat["units"]) == (1, 1)
    assert row(engine, NOV1, "vendor", vendor_of(engine, "HAT-1"), "USD")["units"] == 1 + 3 + 1
    shop_nov1 = row(engine, NOV1, "shop", "", "USD")  # o2 and o3, in both ends of the day
    assert (shop_nov1["orders"], shop_nov1["units"]) == (2, 1 + 3 + 1 + 2)
    assert row(engine, NOV2, "shop", "", "USD")["orders"] == 1  # o5
    assert sales(engine) == {k: v for k, v in expected(engine).items() if k[0] != OCT31}


# --- the scheduled jobs ------------------------------------------------------------------------


def test_given_a_late_refund_when_the_hourly_rollup_runs_then_only_its_placement_day_changes(
    shop: dict[str, str], pipeline: Pipeline, engine: Engine
) -> None:
    placed, placed_steps = pipeline.place(place_cmd("late", {"MUG-1": 3}))
    left = pipeline.drain(placed_steps, until=steps.FULFIL)  # paid, not shipped yet
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE orders SET created_at = :at WHERE id = :id"),
            {"at": local(OCT31, 18), "id": placed.order_id},
        )
    age_orders(engine)
    rebuild(engine, OCT31, NOV2)
    quiet = run_rollup(pipeline, steps.ROLLUP, local(NOV2, 14, 5))
    before, written = sales(engine), stamps(engine)
    charged = row(engine, OCT31, "shop", "", "USD")["captured"]  # o1 and this order, paid

    pipeline.drain([*left, *pipeline.cancel(placed.order_number)[1]])  # refunded now
    ran = run_rollup(pipeline, steps.ROLLUP, local(NOV2, 15, 5))

    assert (quiet["day"], quiet["dirty"]) == ("2026-11-02", [])
    assert (ran["day"], ran["dirty"]) == ("2026-11-02", ["2026-10-31"])
    after = sales(engine)
    changed = {key for key in after if after[key] != before[key]}
    assert {(day, dimension) for day, dimension, *_ in changed} == {
        (OCT31, "product"),
        (OCT31, "vendor"),
        (OCT31, "category"),
        (OCT31, "shop"),
    }
    mug = row(engine, OCT31, "product", "MUG-1", "USD")
    assert (mug["cancellations"], mug["refunds"], mug["refunded"]) == (
        1,
        1,
        refunded(engine, "late"),
    )
    shop_oct31 = row(engine, OCT31, "shop", "", "USD")
    assert (shop_oct31["refunds"], shop_oct31["refunded"]) == (1, refunded(engine, "late"))
    assert shop_oct31["captured"] == charged == captured(engine, "o1") + captured(engine, "late")
    assert after == expected(engine)
    unchanged = {key: at for key, at in stamps(engine).items() if key[0] == NOV1}
    assert unchanged == {key: at for key, at in written.items() if key[0] == NOV1}


def test_given_the_nightly_slot_then_it_rolls_up_the_local_day_that_just_ended(
    shop: dict[str, str], pipeline: Pipeline, engine: Engine
) -> None:
    age_orders(engine)
    rebuild(engine, OCT31, OCT31)

    ran = run_rollup(pipeline, steps.ROLLUP_PREVIOUS_DAY, local(NOV2, 0, 15))  # 05:15 UTC

    assert (ran["day"], ran["dirty"]) == ("2026-11-01", [])  # Nov 2 is the next run's
    assert {day for day, *_ in sales(engine)} == {OCT31, NOV1}
    assert sales(engine) == {k: v for k, v in expected(engine).items() if k[0] != NOV2}


def test_given_days_never_rolled_up_when_the_hourly_rollup_runs_then_they_are_rolled_up(
    shop: dict[str, str], pipeline: Pipeline, engine: Engine
) -> None:
    ran = run_rollup(pipeline, steps.ROLLUP, local(NOV2, 20, 5))

    assert ran["dirty"] == ["2026-10-31", "2026-11-01"]
    assert sales(engine) == expected(engine)


# --- backroom analytics rebuild ----------------------------------------------------------------


def test_given_a_range_when_analytics_rebuild_then_each_day_is_rolled_up_and_printed(
    shop: dict[str, str], engine: Engine, database_url: str, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO daily_sales SELECT CAST('2026-11-01' AS date),"
                " 'product', gen_random_uuid(), 'USD', 1, 1, 0, 0, 1, 1, 1, 0, 0, 0"
            )
        )

    done = backroom(
        "analytics",
        "rebuild",
        "--from",
        "2026-10-31",
        "--to",
        "2026-11-02",
        database_url=database_url,
        data_dir=tmp_path,
        BACKROOM_TIMEZONE=NEW_YORK.key,
    )

    assert done.returncode == 0, explain(done)
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["2026-10-31", "2026-11-01", "2026-11-02"]
    assert "1 deleted" in lines[1]  # the row no order backs
    assert (
        lines[3]
        == f"rebuilt 3 day(s) from 2026-10-31 to 2026-11-02: {len(sales(engine))} row(s) written"
    )
    assert sales(engine) == expected(engine)


def test_given_a_range_ending_before_it_starts_when_analytics_rebuild_then_exit_2(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    done = backroom(
        "analytics",
        "rebuild",
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-01",
        database_url=database_url,
        data_dir=tmp_path,
    )

    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "backroom: analytics rebuild: --to 2026-11-01 is before --from 2026-11-02"
    )
