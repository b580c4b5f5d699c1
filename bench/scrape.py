"""Benchmark (not a test): what one scrape of `backroom metrics` costs on a large shop.

    .venv/bin/python bench/scrape.py [--items 1000000] [--open 2000] [--database URL]
        [--broker URL] [--rounds 20] [--keep]

Builds the throwaway database of `bench/rollup.py` (at least `--items` order lines, in orders
that are all final), then makes `--open` of its orders open again (pending, confirmed or
processing, the newest ones, as a shop's are), with one unconsumed outbox row each, and 50
open dead letters. Then, `--rounds` times, it times the two halves of a scrape, as the
exporter takes them (`workers.observe.snapshot.take`):

1. the database's figures (`domain.services.vitals.read`: orders per status, the oldest open
   order, the outbox, the open dead letters, the latest slots), on one open connection;
2. the five queues' depths from the broker (`--broker`, default BACKROOM_BROKER_URL).

It prints the median and the largest of each, and the database's figures once, to be checked.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent)]

from rollup import create, drop, populate  # noqa: E402  (it puts the repository on sys.path)
from sqlalchemy import Engine, text  # noqa: E402

from domain.db import make_engine  # noqa: E402
from domain.services import vitals  # noqa: E402
from workers.observe import queues  # noqa: E402
from workers.routing import QUEUES  # noqa: E402

REOPEN = """
WITH newest AS (SELECT id, row_number() OVER (ORDER BY created_at DESC) AS n FROM orders
                ORDER BY created_at DESC LIMIT :open)
UPDATE orders o SET status = (ARRAY['pending', 'confirmed', 'processing'])[1 + n % 3]
FROM newest WHERE o.id = newest.id
"""
OUTBOX = """
INSERT INTO outbox (task, kwargs, order_id)
SELECT 'inventory.reserve', jsonb_build_object('order_id', id), id FROM orders
WHERE status IN ('pending', 'confirmed', 'processing')
"""
LETTERS = """
INSERT INTO dead_letters (task, payload, reason, error_type)
SELECT 'payments.capture', '{}', 'retries exhausted', 'ProviderUnavailable'
FROM generate_series(1, 50)
"""


def reopen(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        for statement in (REOPEN, OUTBOX, LETTERS):
            conn.execute(text(statement), {"open": count})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE orders, outbox, dead_letters"))


def timed(work: Callable[[], object], rounds: int) -> list[float]:
    taken = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        taken.append(time.perf_counter() - started)
    return taken


def show(label: str, taken: list[float]) -> None:
    median, worst = statistics.median(taken), max(taken)
    print(f"{label}: median {median * 1000:.1f} ms, largest {worst * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="order lines, at least")
    parser.add_argument("--open", type=int, default=2000, help="orders made open again")
    parser.add_argument("--database", default=os.environ.get("BACKROOM_DATABASE_URL"))
    parser.add_argument("--broker", default=os.environ.get("BACKROOM_BROKER_URL"))
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    if not args.database or not args.broker:
        raise SystemExit(
            "give --database and --broker (or set BACKROOM_DATABASE_URL and _BROKER_URL)"
        )
    database = create(args.database)
    try:
        counts = populate(database, args.items, 30, "UTC")
        engine = make_engine(database, pool_size=1)
        reopen(engine, args.open)
        print(f"{os.cpu_count()} cores; {counts['items']:,} items in {counts['orders']:,} orders")
        with engine.connect() as conn:
            print(vitals.read(conn))
            show("database figures", timed(lambda: vitals.read(conn), args.rounds))
        from kombu.connection import Connection

        with Connection(args.broker) as broker:
            show("queue depths", timed(lambda: queues.depths(broker, QUEUES), args.rounds))
        engine.dispose()
    finally:
        if not args.keep:
            drop(args.database)


if __name__ == "__main__":
    main()
