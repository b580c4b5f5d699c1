"""`backroom demo`: the main job, end to end, on embedded servers when none are configured.

Migrate, seed, start real workers and a beat, play an outside system placing N orders (good,
declined, flaky and out-of-stock ones) through the public contract, show progress while they
move, then run the hourly reorder check and the hourly rollup once by hand for the current
second (as `backroom schedule run check-reorder` and `backroom schedule run rollup-today` would)
and wait for each to succeed, build today's report so far (as `backroom report nightly --date
TODAY` would), print a summary of the orders, the reorder requests that check made and the
report's path, and stop everything it started.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from alembic import command
from sqlalchemy import Engine, text

import migrations
from backroom_client import BackroomClient
from domain import reports
from domain.db import make_engine, session_factory, unit_of_work
from domain.handlers.jobs import build_report
from domain.models import RunStatus
from domain.ports import SystemClock
from domain.services import orders
from scheduler.schedule import Entry, entry_named
from workers.cli.data import print_seed_report, run_seed
from workers.cli.output import fail, out, progress_bar
from workers.cli.schedule import enqueue
from workers.cli.servers import served
from workers.demo.summary import collect, collect_reorders, print_reorders, print_summary, run_state
from workers.runtime import job_policy
from workers.settings import Settings

FINAL = sorted(status.value for status in orders.FINAL)
REORDER_ENTRY, ROLLUP_ENTRY = "check-reorder", "rollup-today"
RUN_TIMEOUT = 120.0  # seconds the demo waits for a scheduled job it ran to succeed
ADDRESS = {
    "name": "Grace Hopper",
    "line1": "1 Navy Yard",
    "city": "Arlington",
    "postal_code": "22202",
    "country": "US",
}


class DemoProcesses:
    """The demo's worker and beat, as subprocesses logging to one file; all stopped (warm) when
    the `with` block ends."""

    def __init__(self, env: dict[str, str], log: IO[bytes]) -> None:
        self.env, self.log = env, log
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *argv: str) -> None:
        self.procs.append(_spawn(list(argv), self.env, self.log))

    def __enter__(self) -> DemoProcesses:
        return self

    def __exit__(self, *_: object) -> None:
        _stop(self.procs)


def _spawn(argv: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """`backroom ARGV` in a process group of its own (so a signal reaches its pool too)."""
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli", *argv],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM (Celery's warm shutdown) to all, then SIGKILL to any still there after 30 s."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _skus(engine: Engine) -> tuple[list[str], list[str]]:
    """(SKUs with stock, SKUs with none) among active demo products without variants."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT p.sku, i.quantity_available FROM products p JOIN inventory i ON "
                "i.product_id = p.id WHERE p.status = 'active' AND NOT EXISTS "
                "(SELECT 1 FROM product_variants v WHERE v.product_id = p.id) ORDER BY p.sku"
            )
        ).all()
    return [s for s, q in found if q > 0], [s for s, q in found if q == 0]


def _payload(
    rng: random.Random, run: str, n: int, good: list[str], gone: list[str]
) -> dict[str, Any]:
    roll = rng.random()
    token = "tok_decline" if roll < 0.07 else "tok_flaky" if roll < 0.14 else "tok_ok"
    skus = rng.sample(good, k=min(len(good), rng.randint(1, 3)))
    if 0.14 <= roll < 0.20 and gone:
        skus = [rng.choice(gone)]
    return {
        "idempotency_key": f"demo-{run}-{n}",
        "customer_email": f"customer{rng.randint(1, 200)}@demo.backroom.example",
        "customer_name": "Demo Customer",
        "currency": "USD",
        "lines": [{"sku": sku, "quantity": rng.randint(1, 2)} for sku in skus],
        "shipping_address": ADDRESS,
        "payment_token": token,
    }


def _final_count(engine: Engine, run: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM orders WHERE idempotency_key LIKE :k AND status = ANY(:f)"
                ),
                {"k": f"demo-{run}-%", "f": list(FINAL)},
            ).scalar_one()
        )


def _restock_low(client: BackroomClient, engine: Engine, run: str) -> list[str]:
    """Show the public restock task: top up in-stock products at or under their reorder point
    to just above it (a few sales take them back under it, so the reorder check after the
    orders has something to ask for); the SKUs topped up."""
    with engine.connect() as conn:
        low = conn.execute(
            text(
                "SELECT p.sku, i.reorder_point + 3 - i.quantity_available AS short"
                " FROM products p JOIN inventory i ON i.product_id = p.id"
                " WHERE i.quantity_available BETWEEN 1 AND i.reorder_point ORDER BY p.sku"
            )
        ).all()
    for sku, short in low:
        key = f"demo-{run}-restock-{sku}"
        client.restock(sku, short, "demo top-up", idempotency_key=key)
    return [sku for sku, _ in low]


def _await_restocked(engine: Engine, skus: list[str], timeout: float = 120) -> None:
    """Wait until the worker has topped up every SKU in `skus` above its reorder point."""
    query = text(
        "SELECT count(*) FROM products p JOIN inventory i ON i.product_id = p.id"
        " WHERE p.sku = ANY(:skus) AND i.quantity_available <= i.reorder_point"
    )
    deadline = time.monotonic() + timeout
    while skus and time.monotonic() < deadline:
        with engine.connect() as conn:
            if not conn.execute(query, {"skus": skus}).scalar():
                return
        time.sleep(0.25)


def _place(client: BackroomClient, payloads: list[dict[str, Any]]) -> dict[str, float]:
    sent: dict[str, float] = {}
    for payload in payloads:
        sent[payload["idempotency_key"]] = time.time()
        client.place_order(**payload)
    return sent


def _wait(engine: Engine, run: str, total: int, timeout: float) -> None:
    """Until every order is final or `timeout` seconds pass, with a bar of the final ones."""
    deadline = time.monotonic() + timeout
    done = 0
    with progress_bar("orders final", min_total=1) as progress:
        while done < total and time.monotonic() < deadline:
            done = _final_count(engine, run)
            progress(done, total)
            time.sleep(0.25)


def _await_run(
    engine: Engine, entry: Entry, slot: datetime, timeout: float
) -> tuple[str | None, str | None]:
    """Poll the slot's `scheduled_runs` row until its run succeeded or `timeout` seconds pass;
    the last status seen (None: no row) and the run's error, if any."""
    deadline = time.monotonic() + timeout
    status, error = run_state(engine, entry.name, slot)
    while status != RunStatus.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.25)
        status, error = run_state(engine, entry.name, slot)
    return status, error


def _run_now(engine: Engine, settings: Settings, name: str) -> datetime | None:
    """Run the entry `name` for the current second and wait for it; its slot, or None (said on
    stderr) when it did not succeed in time."""
    entry = entry_named(settings, name)
    slot = SystemClock().now().replace(microsecond=0)
    if enqueue(engine, entry, slot) is not None:
        out(f"enqueued {entry.name} for slot {slot.isoformat()}")
    else:
        out(f"{entry.name} slot {slot.isoformat()} was claimed before: waiting for that run")
    status, error = _await_run(engine, entry, slot, RUN_TIMEOUT)
    if status != RunStatus.SUCCEEDED:
        why = f"{status or 'not started'}" + (f": {error}" if error else "")
        limit = f"{RUN_TIMEOUT:.0f} s"
        fail(f"{entry.name} {slot.isoformat()} did not succeed within {limit} ({why})")
        return None
    return slot


def _check_reorder(engine: Engine, settings: Settings) -> dict[str, Any] | None:
    """The reorder check run now (`_run_now`); the requests it made (see `collect_reorders`),
    or None when it did not succeed in time."""
    slot = _run_now(engine, settings, REORDER_ENTRY)
    return None if slot is None else collect_reorders(engine, REORDER_ENTRY, slot, settings.zone)


def _report(engine: Engine, settings: Settings) -> Path | None:
    """Today's sales rolled up by the worker (`rollup-today` run now), then today's report so
    far built here as `backroom report nightly --date TODAY` builds it; its page, or None when
    the rollup did not succeed in time."""
    slot = _run_now(engine, settings, ROLLUP_ENTRY)
    if slot is None:
        return None
    today = slot.astimezone(settings.zone).date()
    with unit_of_work(session_factory(engine)) as session:
        built = build_report(session, job_policy(settings), today)
    return (built.folder / reports.HTML).resolve()


def run(settings: Settings, args: argparse.Namespace) -> int:
    where = "configured" if settings.database_url else f"embedded (under {settings.data_dir}/)"
    out(f"Backroom demo: {args.orders} orders on {where} servers")
    with served(settings) as urls:
        assert urls.database_url is not None
        assert urls.broker_url is not None
        command.upgrade(migrations.config(urls.database_url), "head")
        out("schema migrated")
        print_seed_report(run_seed(urls.database_url, args))
        engine = make_engine(urls.database_url, pool_size=1)
        env = {**os.environ, "BACKROOM_MAILER": os.environ.get("BACKROOM_MAILER", "file")}
        log = Path(settings.data_dir) / "demo-workers.log"
        log.parent.mkdir(parents=True, exist_ok=True)  # a configured data folder may not exist
        with log.open("ab") as handle, DemoProcesses(env, handle) as procs:
            procs.start("worker", "-c", str(args.concurrency), "-n", "demo@%h")
            summary = _drive(engine, urls, settings, args, procs)
        engine.dispose()
    print_summary(summary)
    if summary["reorder"] is not None:
        print_reorders(summary["reorder"])
    if summary["report"] is not None:
        out(f"today's report (so far): {summary['report']}")
    out(f"worker logs: {log}; emails (simulated provider): {Path(settings.data_dir) / 'mail'}")
    if settings.database_url is None:
        out("embedded servers stopped (data kept in the data folder for the next run)")
    ok = summary["final"] == summary["placed"] and None not in (
        summary["reorder"],
        summary["report"],
    )
    return 0 if ok else 1


def _await_worker(client: BackroomClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not client.app.control.ping(timeout=1):
        if time.monotonic() > deadline:
            raise RuntimeError("the demo worker did not start: see the worker log")


def _drive(
    engine: Engine,
    urls: Any,
    settings: Settings,
    args: argparse.Namespace,
    procs: DemoProcesses,
) -> dict[str, Any]:
    from workers.app import transport_options

    client = BackroomClient(
        urls.broker_url,
        result_backend=urls.result_backend,
        transport_options=transport_options(settings, urls.broker_url),  # the key prefix too
    )
    run_id = uuid.uuid4().hex[:8]
    try:
        _await_worker(client)
        topped = _restock_low(client, engine, run_id)
        if topped:
            out(f"restocked {len(topped)} low SKUs through inventory.restock")
        _await_restocked(engine, topped)
        procs.start("beat")  # after the top-up: its first reorder check sees the stock as topped
        good, gone = _skus(engine)
        rng = random.Random(args.seed)
        payloads = [_payload(rng, run_id, n, good, gone) for n in range(args.orders)]
        sent = _place(client, payloads)
        _wait(engine, run_id, args.orders, args.timeout)
        reorder = _check_reorder(engine, settings)
        report = _report(engine, settings)
    finally:
        client.close()
    return collect(engine, run_id, sent) | {"reorder": reorder, "report": report}
