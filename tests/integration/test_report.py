"""The nightly report on a real PostgreSQL, of a seeded day: Nov 1 2026 in New York (25 hours
long). The rollup shop of `test_rollups.py` (orders over Oct 31 - Nov 2, in USD and EUR, one
cancelled, one refunded) plus, on Nov 1, a declined payment and a SKU sold out; each event's
time is moved into the day it belongs to. Its CSV files must hold the day's numbers, the page
must draw its charts in headless Chromium, and the scheduled run must email each recipient
once, over a real SMTP conversation, with the files attached."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, text

from domain import steps
from domain.contracts import Slot
from domain.db import session_factory, unit_of_work
from domain.handlers import JobPolicy, run_step
from domain.handlers.jobs import build_report
from domain.ports import Email
from domain.services import reorder
from tests.browser import Browser
from tests.integration.pipeline_helpers import Pipeline, place_cmd, stock_products
from tests.integration.rollup_helpers import NEW_YORK, NOV1, NOV2, OCT31, local, open_shop, rebuild
from tests.integration.test_cli import backroom, explain
from workers.adapters.mail import SmtpMailer

if TYPE_CHECKING:
    from tests.smtp_server import SmtpServer

LEAD = {"o2": timedelta(hours=2), "o4": timedelta(hours=4), "o8": timedelta(hours=6)}


@pytest.fixture
def seeded(pipeline: Pipeline, engine: Engine, tmp_path: Path) -> Pipeline:
    """The shop, rolled up, with Nov 1's events at their times; reports saved under tmp_path."""
    ids = open_shop(pipeline, engine)
    pipeline.jobs = JobPolicy(zone=NEW_YORK, reports=tmp_path / "reports")
    stock_products(engine, {"LAST-1": 1}, price=2000)
    ids["o7"] = _placed(pipeline, "o7", {"MUG-1": 1}, local(NOV1, 9), token="tok_decline")
    ids["o8"] = _placed(pipeline, "o8", {"LAST-1": 1}, local(NOV1, 14))
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # no touch triggers
        conn.execute(text("UPDATE inventory SET created_at = '2026-10-01T00:00:00Z'"))
        conn.execute(text("UPDATE inventory_variants SET created_at = '2026-10-01T00:00:00Z'"))
        # every event of an order happens in the minutes after it was placed...
        conn.execute(
            text(
                "UPDATE order_status_history h SET created_at = o.created_at + interval '1 minute'"
                " FROM orders o WHERE o.id = h.order_id"
            )
        )
        conn.execute(
            text(
                "UPDATE payments p SET failed_at = o.created_at + interval '1 minute'"
                " FROM orders o WHERE o.id = p.order_id AND p.failed_at IS NOT NULL"
            )
        )
        conn.execute(
            text(
                "UPDATE inventory_movements m SET created_at = o.created_at + interval '1 minute'"
                " FROM orders o WHERE o.id = m.reference_id"
            )
        )
        conn.execute(text("UPDATE orders SET shipped_at = NULL"))
        # ... but shipping, which takes LEAD
        for key, lead in LEAD.items():
            conn.execute(
                text("UPDATE orders SET shipped_at = created_at + :lead WHERE id = :id"),
                {"lead": lead, "id": ids[key]},
            )
    with unit_of_work(pipeline.factory) as session:  # Nov 1's reorder check, at 16:00
        reorder.request(session, NOV1, local(NOV1, 16))
    rebuild(engine, OCT31, NOV2)
    return pipeline


def _placed(
    pipeline: Pipeline, key: str, lines: dict[str, int], at: datetime, token: str = "tok_ok"
) -> str:
    placed, placed_steps = pipeline.place(place_cmd(key, lines, token=token))
    pipeline.drain(placed_steps)
    with pipeline.engine.begin() as conn:
        conn.execute(
            text("UPDATE orders SET created_at = :at WHERE id = :id"),
            {"at": at, "id": placed.order_id},
        )
    return placed.order_id


def _csv(folder: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((folder / name).read_text())))


def _by(rows: list[dict[str, str]], column: str) -> dict[str, dict[str, str]]:
    return {row[column]: row for row in rows}


def _number(engine: Engine, key: str) -> str:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT order_number FROM orders WHERE idempotency_key = :k"), {"k": key}
        ).scalar_one()
    return str(found)


def _captured(engine: Engine, keys: list[str]) -> int:
    """What the provider charged for these orders, from the payments (not the rollups)."""
    sql = (
        "SELECT coalesce(sum(p.amount), 0) FROM payments p JOIN orders o ON o.id = p.order_id"
        " WHERE o.idempotency_key = ANY(:keys) AND p.captured_at IS NOT NULL"
    )
    with engine.connect() as conn:
        return int(conn.execute(text(sql), {"keys": keys}).scalar_one())


def _build(pipeline: Pipeline) -> Path:
    with unit_of_work(pipeline.factory) as session:
        return build_report(session, pipeline.jobs, NOV1).folder


def _cents(amount: str) -> int:
    whole, _, part = amount.partition(".")
    assert len(part) == 2, f"{amount} is not in major units with two decimals"
    return int(whole) * 100 + int(part)


# --- the numbers -------------------------------------------------------------------------------


def test_given_a_seeded_day_when_its_report_is_built_then_its_csv_files_hold_the_days_numbers(
    seeded: Pipeline, engine: Engine, tmp_path: Path
) -> None:
    folder = _build(seeded)

    assert folder == tmp_path / "reports" / "2026-11-01"
    totals = _by(_csv(folder, "totals.csv"), "currency")
    assert set(totals) == {"USD", "EUR"}
    usd = totals["USD"]
    # Nov 1, USD: o2 (TEE-1-RED x1 at 15.00, HAT-1 x3 at 12.50; tax 0.77, discount 1.01),
    # o3 (TEE-1 x1 at 12.50, SOCK-1 x2 at 8.99; cancelled), o7 (MUG-1 x1 at 8.99; declined),
    # o8 (LAST-1 x1 at 20.00)
    assert usd["day"] == "2026-11-01"
    assert (usd["orders"], usd["customers"], usd["units"]) == ("4", "4", str(4 + 3 + 1 + 1))
    gross = 1500 + 3 * 1250 + 1250 + 2 * 899 + 899 + 2000
    assert _cents(usd["gross"]) == gross
    assert (_cents(usd["discounts"]), _cents(usd["tax"])) == (101, 77)
    assert _cents(usd["net"]) == gross - 101
    assert _cents(usd["captured"]) == _captured(engine, ["o2", "o8"])
    assert _cents(usd["captured"]) > 0
    assert (usd["cancellations"], usd["refunds"], usd["refunded"]) == ("2", "0", "0.00")
    eur = totals["EUR"]  # o4: TEE-EU x1, MUG-EU x2 at 7.99, tax 1.90
    assert (eur["orders"], eur["units"], eur["gross"], eur["tax"]) == ("1", "3", "23.97", "1.90")

    daily = _csv(folder, "daily.csv")
    assert len([r for r in daily if r["currency"] == "USD"]) == 30
    by_day = {(r["day"], r["currency"]): r for r in daily}
    assert by_day[("2026-11-01", "USD")]["net"] == usd["net"]
    assert by_day[("2026-10-31", "USD")]["orders"] == "1"  # o1
    assert by_day[("2026-10-03", "USD")] == {
        "day": "2026-10-03",
        "currency": "USD",
        "orders": "0",
        "net": "0.00",
        "captured": "0.00",
    }

    products = _csv(folder, "top-products.csv")
    usd_products = [r for r in products if r["currency"] == "USD"]
    assert [r["sku"] for r in usd_products][:2] == ["HAT-1", "TEE-1"]  # 37.50 - share, 27.50
    assert [r["rank"] for r in usd_products] == [str(n) for n in range(1, len(usd_products) + 1)]
    categories = _by(
        [r for r in _csv(folder, "top-categories.csv") if r["currency"] == "USD"], "path"
    )
    assert categories["/apparel"]["units"] == str(1 + 3 + 1)  # TEE-1 counts once for apparel
    vendors = [r for r in _csv(folder, "top-vendors.csv") if r["currency"] == "EUR"]
    assert len(vendors) == 1

    failures = _csv(folder, "payment-failures.csv")
    assert [(r["order_number"], r["reason"]) for r in failures] == [
        (_number(engine, "o7"), "card declined")
    ]
    assert failures[0]["at"].startswith("2026-11-01T09:01:00")
    assert failures[0]["at"].endswith("-05:00")  # in the shop's zone (after the DST change)
    cancellations = _csv(folder, "cancellations.csv")
    assert {r["order_number"]: r["reason"] for r in cancellations} == {
        _number(engine, "o3"): "cancelled: customer_request",
        _number(engine, "o7"): "payment declined: card declined",
    }
    assert [r["sku"] for r in _csv(folder, "reorders.csv")] == ["LAST-1"]
    out_of_stock = _csv(folder, "out-of-stock.csv")
    assert [(r["sku"], r["available"]) for r in out_of_stock] == [("LAST-1", "0")]
    lead = _csv(folder, "lead-times.csv")[0]
    # o2 2 h, o4 4 h, o8 6 h: p50 4 h; p95 interpolated: 4 h + 0.9 x 2 h
    assert lead == {
        "day": "2026-11-01",
        "shipped": "3",
        "p50_seconds": f"{4 * 3600:.1f}",
        "p95_seconds": f"{(4 + 0.9 * 2) * 3600:.1f}",
    }


def test_given_a_built_report_when_rebuilt_by_the_command_after_later_events_then_same_files(
    seeded: Pipeline, engine: Engine, tmp_path: Path
) -> None:
    first = {p.name: p.read_bytes() for p in _build(seeded).iterdir()}
    seeded.restock("LAST-1", 5, "restock-after-the-day")  # today: after Nov 1's end

    done = backroom(
        "report",
        "nightly",
        "--date",
        "2026-11-01",
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        BACKROOM_TIMEZONE="America/New_York",
    )

    assert done.returncode == 0, explain(done)
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder == (tmp_path / "reports" / "2026-11-01").resolve()
    again = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(again) == sorted(first)
    assert again == first  # the day's numbers, lists and charts are what they were


def test_given_a_day_yet_to_come_when_the_report_is_asked_for_then_it_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()

    done = backroom(
        "report",
        "nightly",
        "--date",
        tomorrow,
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
    )

    assert done.returncode == 2, explain(done)
    assert "has not begun yet" in done.stderr


# --- the page ----------------------------------------------------------------------------------


def test_given_a_report_when_opened_in_chromium_then_its_charts_and_tables_are_drawn(
    seeded: Pipeline, browser: Browser
) -> None:
    folder = _build(seeded)

    page = browser.open((folder / "report.html").as_uri())

    assert page.title() == "Nightly report 2026-11-01"
    charts = page.locator("figure.chart svg")
    assert charts.count() == 2  # EUR and USD
    for n in range(2):
        box = charts.nth(n).bounding_box()
        assert box is not None
        assert (box["width"] > 400, box["height"] > 100) == (True, True)
    usd = page.locator('figure.chart[data-currency="USD"] svg')
    # 30 bars, Nov 1's the tallest (the day's net sales are the month's most), 30 order points
    heights = usd.locator("g[id^='net-USD-'] path").evaluate_all(
        "paths => paths.map(p => p.getBoundingClientRect().height)"
    )
    assert len(heights) == 30
    nov1 = usd.locator("g[id='net-USD-2026-11-01'] path").bounding_box()
    assert nov1 is not None
    assert nov1["height"] == max(heights)
    assert nov1["height"] > 50
    assert sum(1 for h in heights if h > 0) == 2  # Oct 31 and Nov 1 sold in USD
    orders_line = usd.locator("g[id='orders-USD'] path").first.bounding_box()
    assert orders_line is not None
    assert orders_line["width"] > 300
    assert "Net sales (bars) and orders (line)" in (usd.text_content() or "")
    cards = page.locator('.cards[data-currency="USD"]').inner_text()
    assert "4\norders" in cards
    assert page.locator('table[data-table="product"]').first.is_visible()
    assert page.get_by_text("card declined").first.is_visible()


# --- the scheduled run -------------------------------------------------------------------------


def _attachments(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    found: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_attachments():
        name = part.get_filename()
        assert name is not None
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[name] = (part.get_content_type(), payload)
    return found


RECIPIENTS = ("manager@example.com", "owner@example.com")


@pytest.fixture
def mailed(seeded: Pipeline, smtp_server: SmtpServer, tmp_path: Path) -> Pipeline:
    """The seeded shop with two report recipients and a real SMTP server."""
    seeded.jobs = JobPolicy(NEW_YORK, reports=tmp_path / "reports", report_recipients=RECIPIENTS)
    seeded.mailer = SmtpMailer(smtp_server.host, smtp_server.port, sender="reports@example.com")
    return seeded


def test_given_recipients_when_the_slot_runs_then_each_gets_the_report_once_over_smtp(
    mailed: Pipeline, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    slot = local(NOV2, 6)

    result = run_step(mailed.ports, steps.NIGHTLY_REPORT, Slot(entry="nightly-report", slot=slot))

    done: dict[str, Any] = result.value()
    assert done["day"] == "2026-11-01"
    assert done["emailed"] == list(RECIPIENTS)
    received = smtp_server.messages
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(RECIPIENTS)
    folder = tmp_path / "reports" / "2026-11-01"
    saved = {p.name: p.read_bytes() for p in folder.iterdir()}
    for message in received:
        mail = message.message
        assert mail["Subject"] == (
            "Nightly report 2026-11-01: 1 order, 23.97 EUR net; 4 orders, 110.96 USD net"
        )
        body = mail.get_body(("html",))
        assert body is not None
        sent = body.get_content().replace("\r\n", "\n")  # SMTP carries lines with CRLF
        assert sent == saved["report.html"].decode()
        attached = _attachments(mail)
        assert sorted(attached) == sorted(saved)
        assert {name: data for name, (_, data) in attached.items()} == saved
        assert attached["totals.csv"][0] == "text/csv"

    # the same slot again, then the slot run again by hand: nobody gets it twice
    again = run_step(mailed.ports, steps.NIGHTLY_REPORT, Slot(entry="nightly-report", slot=slot))
    assert "already succeeded" in again.value()
    by_hand = Slot(entry="nightly-report", slot=slot + timedelta(minutes=30))
    rerun: dict[str, Any] = run_step(mailed.ports, steps.NIGHTLY_REPORT, by_hand).value()
    assert (rerun["emailed"], rerun["emailed_before"]) == ([], list(RECIPIENTS))
    assert len(smtp_server.messages) == 2


def test_given_a_mail_server_down_when_the_slot_runs_then_it_fails_and_its_retry_sends_once(
    mailed: Pipeline, smtp_server: SmtpServer
) -> None:
    slot = Slot(entry="nightly-report", slot=local(NOV2, 6))
    smtp_server.handler.fail_next(1)  # the first recipient's message: 451, try again later

    first = run_step(mailed.ports, steps.NIGHTLY_REPORT, slot)

    with pytest.raises(Exception, match="451"):
        first.value()
    assert smtp_server.messages == []
    retried: dict[str, Any] = run_step(mailed.ports, steps.NIGHTLY_REPORT, slot).value()
    assert retried["emailed"] == list(RECIPIENTS)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(RECIPIENTS)


class DiesAfterFirst:
    """A mailer whose process dies (an error that is no mail error) once the server took the
    first message: the run's transaction is rolled back."""

    def __init__(self, inner: SmtpMailer) -> None:
        self.inner, self.handed = inner, 0

    def send(self, email: Email) -> None:
        if self.handed == 1:
            raise RuntimeError("worker lost")
        self.inner.send(email)
        self.handed += 1


def test_given_the_run_dies_after_the_first_email_when_run_again_then_nobody_gets_it_twice(
    mailed: Pipeline, smtp_server: SmtpServer
) -> None:
    slot = Slot(entry="nightly-report", slot=local(NOV2, 6))
    smtp_mailer = mailed.mailer
    mailed.mailer = DiesAfterFirst(smtp_mailer)

    with pytest.raises(RuntimeError, match="worker lost"):
        run_step(mailed.ports, steps.NIGHTLY_REPORT, slot)
    mailed.mailer = smtp_mailer
    retried: dict[str, Any] = run_step(mailed.ports, steps.NIGHTLY_REPORT, slot).value()

    assert (retried["emailed_before"], retried["emailed"]) == ([RECIPIENTS[0]], [RECIPIENTS[1]])
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == list(RECIPIENTS)


def test_the_report_folder_is_replaced_whole_and_only_by_the_days_files(
    seeded: Pipeline, tmp_path: Path
) -> None:
    folder = _build(seeded)
    (folder / "stray.txt").write_text("left by someone")

    again = _build(seeded)

    assert again == folder
    assert not (folder / "stray.txt").exists()
    assert [p.name for p in folder.parent.iterdir()] == ["2026-11-01"]  # no temporary left


def test_given_no_sales_at_all_when_a_report_is_built_then_it_says_so(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.jobs = JobPolicy(zone=NEW_YORK, reports=tmp_path / "reports")
    with unit_of_work(session_factory(pipeline.engine)) as session:
        built = build_report(session, pipeline.jobs, NOV1)

    page = (built.folder / "report.html").read_text()
    assert "No orders were placed in the last 30 days." in page
    assert _csv(built.folder, "totals.csv") == []
    assert (built.folder / "lead-times.csv").read_text().splitlines()[1] == "2026-11-01,0,,"
