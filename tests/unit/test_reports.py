"""The nightly report's files from numbers given by hand (no database): money in major units,
the same bytes for the same numbers, outside text kept harmless in the page and in a
spreadsheet, and the email that carries them."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import reports
from domain.models import SalesDimension
from domain.services.report import (
    DayPoint,
    Incident,
    LeadTimes,
    Nightly,
    OutOfStock,
    Ranked,
    Reorder,
    Sales,
)

DAY = date(2026, 11, 1)
HOSTILE = '=HYPERLINK("http://evil.example","x") <script>alert(1)</script>'


def nightly(**changes: object) -> Nightly:
    points = tuple(
        DayPoint(DAY - timedelta(days=29 - n), orders=n, net=1000 * n, captured=900 * n)
        for n in range(30)
    )
    values: dict[str, object] = {
        "day": DAY,
        "zone": "America/New_York",
        "totals": (Sales("USD", units=7, gross=123450, net=123000, orders=3, customers=2),),
        "series": {"USD": points},
        "top": (
            Ranked(
                SalesDimension.PRODUCT,
                uuid.UUID(int=1),
                1,
                HOSTILE,
                "SKU-1",
                "USD",
                units=7,
                orders=3,
                gross=123450,
                net=123000,
                captured=0,
            ),
        ),
        "failures": (
            Incident("ORD-1", datetime(2026, 11, 1, 14, 1, tzinfo=UTC), "USD", 899, "-1 declined"),
        ),
        "cancellations": (),
        "reorders": (Reorder(7, "SKU-1", "@vendor", 100, 0, 20, "open"),),
        "out_of_stock": (OutOfStock("SKU-1", HOSTILE, "Vendor", 0, False),),
        "lead_times": LeadTimes(3, timedelta(hours=4), timedelta(hours=5, minutes=48)),
    }
    values.update(changes)
    return Nightly(**values)  # type: ignore[arg-type]


def rows(rendered: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(rendered[name].decode())))


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (123450, "USD", "1234.50"),
        (5, "EUR", "0.05"),
        (0, "USD", "0.00"),
        (-5, "USD", "-0.05"),
        (-123456, "GBP", "-1234.56"),
        (5000, "JPY", "5000"),
        (1234, "KWD", "1.234"),
    ],
)
def test_money_is_written_in_major_units_with_the_currencys_decimals(
    cents: int, currency: str, shown: str
) -> None:
    assert reports.major(cents, currency) == shown


def test_the_same_numbers_give_the_same_bytes() -> None:
    first, second = reports.files(nightly()), reports.files(nightly())

    assert first == second
    assert next(iter(first)) == reports.HTML
    assert sorted(first) == sorted(
        [
            "report.html",
            "totals.csv",
            "daily.csv",
            "top-products.csv",
            "top-categories.csv",
            "top-vendors.csv",
            "payment-failures.csv",
            "cancellations.csv",
            "reorders.csv",
            "out-of-stock.csv",
            "lead-times.csv",
        ]
    )
    assert reports.files(nightly(day=DAY + timedelta(days=1)))[reports.HTML] != first["report.html"]


def test_totals_and_times_in_the_csv_files() -> None:
    rendered = reports.files(nightly())

    assert rows(rendered, "totals.csv") == [
        {
            "day": "2026-11-01",
            "currency": "USD",
            "orders": "3",
            "customers": "2",
            "units": "7",
            "cancellations": "0",
            "refunds": "0",
            "gross": "1234.50",
            "discounts": "0.00",
            "tax": "0.00",
            "net": "1230.00",
            "captured": "0.00",
            "refunded": "0.00",
        }
    ]
    failure = rows(rendered, "payment-failures.csv")[0]
    assert failure["at"] == "2026-11-01T09:01:00-05:00"  # 14:01 UTC in New York, after DST
    assert failure["amount"] == "8.99"
    assert rows(rendered, "lead-times.csv") == [
        {"day": "2026-11-01", "shipped": "3", "p50_seconds": "14400.0", "p95_seconds": "20880.0"}
    ]
    daily = rows(rendered, "daily.csv")
    assert [r["day"] for r in daily][::29] == ["2026-10-03", "2026-11-01"]
    last = {"day": "2026-11-01", "currency": "USD", "orders": "29", "net": "290.00"}
    assert daily[-1] == last | {"captured": "261.00"}


def test_text_from_outside_is_harmless_in_a_spreadsheet_and_in_the_page() -> None:
    rendered = reports.files(nightly())

    assert rows(rendered, "top-products.csv")[0]["name"] == f"'{HOSTILE}"
    assert rows(rendered, "out-of-stock.csv")[0]["name"] == f"'{HOSTILE}"
    assert rows(rendered, "reorders.csv")[0]["vendor"] == "'@vendor"
    assert rows(rendered, "payment-failures.csv")[0]["reason"] == "'-1 declined"
    page = rendered[reports.HTML].decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "4 h" in page
    assert "5 h 48 min" in page


def test_the_email_carries_the_page_as_its_body_and_every_file() -> None:
    rendered = reports.files(nightly())

    message = reports.email(nightly(), rendered, "Manager@Example.com")

    assert message.to == "Manager@Example.com"
    assert message.subject == "Nightly report 2026-11-01: 3 orders, 1,230.00 USD net"
    assert message.html == rendered[reports.HTML].decode()
    assert {a.filename: a.data for a in message.attachments} == rendered
    assert {a.content_type for a in message.attachments} == {"text/html", "text/csv"}
    again = reports.email(nightly(), rendered, "manager@example.com")
    assert again.message_id == message.message_id  # per day and recipient, whatever the case
    other = reports.email(nightly(), rendered, "owner@example.com")
    assert other.message_id != message.message_id


def test_a_day_without_sales_says_so() -> None:
    empty = nightly(totals=(), series={}, top=(), failures=(), reorders=(), out_of_stock=())

    rendered = reports.files(empty)

    assert "No orders were placed in the last 30 days." in rendered[reports.HTML].decode()
    assert rows(rendered, "totals.csv") == []
    assert reports.email(empty, rendered, "m@example.com").subject.endswith(": no sales")
