"""`backroom demo`, the main job, run as a user runs it: a process of its own, given servers
(the run's PostgreSQL in a database of its own, the run's Redis), real workers and beat. After
the orders it runs one reorder check by hand; its table must match the database and the mail.
Then it rolls up the day and builds today's report, whose totals must be the database's."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import psutil
from sqlalchemy import text

from domain.db import make_engine
from domain.notifications import KIND_HEADER
from domain.services import reorder
from tests.e2e.harness import REPO, Broker

ORDERS = 40


def _figure(output: str, label: str) -> int:
    found = re.search(rf"^\s*{label}\s+([\d,]+)\s*$", output, re.MULTILINE)
    assert found, f"no '{label}' line in the summary:\n{output}"
    return int(found.group(1).replace(",", ""))


def _reorder_slot(output: str) -> datetime:
    """The slot of the reorder check the demo ran, from its table's heading."""
    found = re.search(
        r"^reorder check after the orders \(check-reorder, slot (\S+)\)$", output, re.M
    )
    assert found, f"no reorder check section in the output:\n{output}"
    return datetime.fromisoformat(found.group(1))


def _report_page(output: str) -> Path:
    found = re.search(r"^today's report \(so far\): (\S+)$", output, re.MULTILINE)
    assert found, f"no report path in the output:\n{output}"
    page = Path(found.group(1))
    assert page.name == "report.html"
    assert page.is_file()
    return page


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def _mail(folder: Path) -> list[Message]:
    """Every email the simulated provider wrote."""
    return [message_from_bytes(path.read_bytes()) for path in folder.glob("*.eml")]


def _started_by(data_dir: Path) -> list[psutil.Process]:
    """Processes still running with this demo's data folder in their environment."""
    left = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("BACKROOM_DATA_DIR") == str(data_dir):
                left.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return left


def test_given_servers_when_the_demo_runs_then_every_order_ends_and_it_stops_what_it_started(
    scratch_database: str, redis_broker: Broker, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "BACKROOM_DATABASE_URL": scratch_database,
        "BACKROOM_BROKER_URL": redis_broker.url,
        "BACKROOM_RESULT_BACKEND": redis_broker.result_backend,
        "BACKROOM_BROKER_KEY_PREFIX": f"{redis_broker.key_prefix}demo:",
        "BACKROOM_DATA_DIR": str(tmp_path),
        "BACKROOM_MAILER": "file",
    }
    argv = [sys.executable, "-m", "workers.cli", "demo", "--orders", str(ORDERS)]
    argv += ["--products", "60", "--customers", "20", "-c", "2", "--timeout", "240"]
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=400)
    output = done.stdout + done.stderr

    assert done.returncode == 0, output
    shipped, cancelled = _figure(output, "shipped"), _figure(output, "cancelled")
    assert _figure(output, "orders placed") == ORDERS
    assert shipped + cancelled == ORDERS
    assert shipped > 0
    mail = _mail(tmp_path / "mail")
    vendor_mail = [m for m in mail if m[KIND_HEADER] == reorder.KIND]
    assert _figure(output, "customer emails sent") == len(mail) - len(vendor_mail)
    slot = _reorder_slot(output)
    stamp = slot.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    for_slot = [m for m in vendor_mail if f"-{stamp}@" in str(m["Message-ID"])]
    assert _figure(output, "vendor emails sent") == len(for_slot)
    engine = make_engine(scratch_database, pool_size=0)
    try:
        with engine.connect() as conn:
            below_zero = conn.execute(
                text("SELECT count(*) FROM inventory WHERE quantity_on_hand < 0")
            ).scalar()
            captures = conn.execute(
                text("SELECT count(*) FROM payment_sim.payments WHERE status = 'captured'")
            ).scalar()
            requested = conn.execute(
                text("SELECT count(*) FROM reorder_requests WHERE slot = :slot"), {"slot": slot}
            ).scalar()
            run_status = conn.execute(
                text(
                    "SELECT status FROM scheduled_runs"
                    " WHERE entry = 'check-reorder' AND slot = :slot"
                ),
                {"slot": slot},
            ).scalar_one()
    finally:
        engine.dispose()
    assert below_zero == 0
    assert captures == shipped
    assert _figure(output, "reorder requests") == requested
    assert run_status == "succeeded"
    assert _started_by(tmp_path) == []
    page = _report_page(output)
    assert page.parent.parent == (tmp_path / "reports").resolve()
    totals = {row["currency"]: row for row in _csv(page.parent / "totals.csv")}
    with engine.connect() as conn:
        day = page.parent.name
        placed = conn.execute(
            text(
                "SELECT o.currency, count(*) AS orders, coalesce(sum(p.amount) FILTER"
                " (WHERE p.captured_at IS NOT NULL), 0) AS captured FROM orders o"
                " LEFT JOIN payments p ON p.order_id = o.id"
                " WHERE CAST(o.created_at AT TIME ZONE 'UTC' AS date) = CAST(:day AS date)"
                " GROUP BY o.currency"
            ),
            {"day": day},
        ).all()
    engine.dispose()
    assert {c: (int(t["orders"]), t["captured"]) for c, t in totals.items()} == {
        row.currency: (row.orders, f"{row.captured // 100}.{row.captured % 100:02d}")
        for row in placed
    }
    assert "<svg" in page.read_text()
