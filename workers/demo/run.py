"""`backroom demo`: the main job, end to end, on embedded servers when none are configured.

Migrate, seed, start real workers and a beat, play an outside system placing N orders (good,
declined, flaky and out-of-stock ones) through the public contract, show progress while they
move, print a summary, and stop everything it started.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from alembic import command
from sqlalchemy import Engine, text

import migrations
from backroom_client import BackroomClient
from domain.db import make_engine
from domain.services import orders
from workers.cli.data import print_seed_report, run_seed
from workers.cli.output import out, progress_bar
from workers.cli.servers import served
from workers.demo.summary import collect, print_summary
from workers.settings import Settings

FINAL = sorted(status.value for status in orders.FINAL)
ADDRESS = {
    "name": "Grace Hopper",
    "line1": "1 Navy Yard",
    "city": "Arlington",
    "postal_code": "22202",
    "country": "US",
}


@contextmanager
def worker_processes(env: dict[str, str], concurrency: int, log: Path) -> Iterator[None]:
    """One worker on every queue and one beat, as subprocesses; stopped (warm) at the end."""
    with log.open("ab") as handle:
        procs = [
            _spawn(["worker", "-c", str(concurrency), "-n", "demo@%h"], env, handle),
            _spawn(["beat"], env, handle),
        ]
        try:
            yield
        finally:
            _stop(procs)


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


def _restock_low(client: BackroomClient, engine: Engine, run: str) -> int:
    """Show the public restock task: top up in-stock products that are running low."""
    with engine.connect() as conn:
        low = (
            conn.execute(
                text(
                    "SELECT p.sku FROM products p JOIN inventory i ON i.product_id = p.id "
                    "WHERE i.quantity_available BETWEEN 1 AND 40 ORDER BY p.sku"
                )
            )
            .scalars()
            .all()
        )
    for sku in low:
        client.restock(sku, 100, "demo top-up", idempotency_key=f"demo-{run}-restock-{sku}")
    return len(low)


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
        with worker_processes(env, args.concurrency, log):
            summary = _drive(engine, urls, settings, args)
        engine.dispose()
    print_summary(summary)
    out(f"worker logs: {log}; emails (simulated provider): {Path(settings.data_dir) / 'mail'}")
    if settings.database_url is None:
        out("embedded servers stopped (data kept in the data folder for the next run)")
    return 0 if summary["final"] == summary["placed"] else 1


def _await_worker(client: BackroomClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not client.app.control.ping(timeout=1):
        if time.monotonic() > deadline:
            raise RuntimeError("the demo worker did not start: see the worker log")


def _drive(
    engine: Engine, urls: Any, settings: Settings, args: argparse.Namespace
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
            out(f"restocked {topped} low SKUs through inventory.restock")
        good, gone = _skus(engine)
        rng = random.Random(args.seed)
        payloads = [_payload(rng, run_id, n, good, gone) for n in range(args.orders)]
        sent = _place(client, payloads)
        _wait(engine, run_id, args.orders, args.timeout)
    finally:
        client.close()
    return collect(engine, run_id, sent)
