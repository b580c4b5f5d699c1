"""Soak benchmark (not a test): many orders through two pipeline workers at a steady rate.

    .venv/bin/python bench/soak.py [--orders 50000] [--window 5000] [--rate N] [--burst 1000]
        [--concurrency 2] [--broker URL] [--redis URL] [--database URL] [--timeout 600]

Servers as `bench/pipeline.py` picks them (its helpers are imported, not copied): `--broker` and
`--database` (default `BACKROOM_BROKER_URL` and `BACKROOM_DATABASE_URL`), else the embedded ones
under `.backroom/`. The run gets a database of its own on that server (migrated, seeded, every
product stocked with 1,000,000 units, so every order ships) and, on Redis, a key prefix of its
own; both are removed at the end. Two `backroom worker` processes (`-c --concurrency` pool
processes each, every queue) carry the orders: one line each, paid with the simulated
provider's `tok_ok`, emails to the simulated provider's files.

1. Burst and warm-up: `--burst` orders placed as fast as the client can. The maximum is the
   burst's orders over the time from its first publish to its last order shipped and emailed.
2. Steady run: `--orders` orders published at 60 % of that maximum (or `--rate` orders/s), on a
   fixed schedule. A line per `--window` orders placed shows the workers' RSS so far.
3. Once every order is final and every email sent, it prints, read from the database:
   - per window (the 1st to `--window`-th order to ship, and so on): orders shipped per second
     (between the window's last shipment and the previous window's last), its change from the
     first window, and the p50/p99 enqueue-to-shipped latency (enqueue: when the client
     published the order; shipped: `orders.shipped_at`, stamped by the worker on this machine);
   - each worker process's RSS (main process and pool children) after the burst and at the end;
   - a summary against the goals, PASS or MISS: RSS growth under 10 % per process, no window's
     throughput more than 10 % under the first's, p99 under 1 s in every window (the goal is
     stated for Redis), every order shipped.
No beat runs. The workers' log is `bench/soak.log`. Exits 1 if an order did not ship.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
from sqlalchemy import Engine, text

sys.path[:0] = [str(Path(__file__).resolve().parent)]

from pipeline import (  # noqa: E402  (it puts the repository on sys.path)
    DATA_DIR,
    REPO,
    RUN,
    drop,
    outside_env,
    percentile,
    place,
    prepare,
    spawned,
    use_servers,
    worker_argv,
    worker_env,
)

from backroom_client import BackroomClient  # noqa: E402
from domain.db import make_engine  # noqa: E402
from domain.services.orders import FINAL  # noqa: E402

SHARE = 0.6  # the steady rate's share of the burst's maximum
GOAL_RSS, GOAL_DECLINE, GOAL_P99_MS = 10.0, 10.0, 1000.0
MIB = 1024 * 1024
WORKERS = 2
BURST_KEYS, RUN_KEYS = f"soak-{RUN}-burst-", f"soak-{RUN}-run-"  # idempotency key prefixes


@dataclass(frozen=True)
class Rig:
    """What the run drives: the client, the run's database, its SKUs and the two workers."""

    client: BackroomClient
    engine: Engine
    skus: list[str]
    workers: list[psutil.Process]


@dataclass(frozen=True)
class Window:
    first: int  # 1-based positions in shipping order
    last: int
    per_second: float
    p50_ms: float
    p99_ms: float


def start_workers(
    stack: ExitStack, args: argparse.Namespace, env: dict[str, str], client: BackroomClient
) -> list[psutil.Process]:
    """The two workers, each with a node name of its own; returns once both answer a ping."""
    names = [f"soak{i}-{RUN}@{socket.gethostname()}" for i in range(1, WORKERS + 1)]
    workers = [
        stack.enter_context(
            spawned([*worker_argv(args.concurrency), "-n", name], env, REPO / "bench" / "soak.log")
        )
        for name in names
    ]
    deadline = time.monotonic() + 60
    while len(client.app.control.ping(destination=names, timeout=1) or []) < len(names):
        if time.monotonic() > deadline:
            raise SystemExit("a soak worker did not start (see bench/soak.log)")
    return workers


def processes(workers: list[psutil.Process]) -> dict[int, str]:
    """pid -> label of each worker's main process and its pool children."""
    found: dict[int, str] = {}
    for i, worker in enumerate(workers, 1):
        found[worker.pid] = f"worker {i} main"
        for j, child in enumerate(worker.children(recursive=True), 1):
            found[child.pid] = f"worker {i} pool {j}"
    return found


def rss(pids: list[int]) -> dict[int, int]:
    """RSS in bytes of each pid still running."""
    sizes: dict[int, int] = {}
    for pid in pids:
        with suppress(psutil.NoSuchProcess):
            sizes[pid] = psutil.Process(pid).memory_info().rss
    return sizes


def await_done(engine: Engine, prefix: str, count: int, timeout: float) -> bool:
    """Poll until the `count` orders under `prefix` are final and no email is pending."""
    query = text(
        "SELECT (SELECT count(*) FROM orders WHERE idempotency_key LIKE :keys"
        " AND status = ANY(:final)) = :count"
        " AND NOT EXISTS (SELECT 1 FROM notifications WHERE status = 'pending')"
    )
    params = {"keys": f"{prefix}%", "final": sorted(FINAL), "count": count}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query, params).scalar():
                return True
        time.sleep(0.5)
    return False


def shipped(engine: Engine, prefix: str) -> dict[str, float]:
    """key -> `orders.shipped_at` (epoch seconds) of the shipped orders under `prefix`."""
    query = text(
        "SELECT idempotency_key, extract(epoch FROM shipped_at) FROM orders"
        " WHERE idempotency_key LIKE :keys AND shipped_at IS NOT NULL"
    )
    with engine.connect() as conn:
        return {key: float(at) for key, at in conn.execute(query, {"keys": f"{prefix}%"})}


def completed(engine: Engine, prefix: str) -> float:
    """When the last order under `prefix` shipped or had its last email sent (epoch seconds)."""
    query = text(
        "SELECT extract(epoch FROM greatest(max(o.shipped_at), max(n.sent_at))) FROM orders o"
        " LEFT JOIN notifications n ON n.order_id = o.id WHERE o.idempotency_key LIKE :keys"
    )
    with engine.connect() as conn:
        return float(conn.execute(query, {"keys": f"{prefix}%"}).scalar_one())


def windows(sent: dict[str, float], done: dict[str, float], size: int) -> list[Window]:
    """The shipped orders in shipping order, cut every `size` orders."""
    order = sorted(done, key=done.__getitem__)
    rows = []
    for start in range(0, len(order), size):
        keys = order[start : start + size]
        begin = done[order[start - 1]] if start else done[keys[0]]
        span, intervals = done[keys[-1]] - begin, len(keys) - (0 if start else 1)
        latencies = [done[k] - sent[k] for k in keys]
        rows.append(
            Window(
                start + 1,
                start + len(keys),
                intervals / span if span > 0 else float("nan"),
                1000 * percentile(latencies, 0.5),
                1000 * percentile(latencies, 0.99),
            )
        )
    return rows


def burst(args: argparse.Namespace, rig: Rig) -> float:
    """Place the burst, wait for it, print and return its maximum in orders/s."""
    count: int = args.burst
    sent = place(rig.client, BURST_KEYS, rig.skus, count, None)
    if not await_done(rig.engine, BURST_KEYS, count, args.timeout):
        raise SystemExit(f"the burst's {count} orders were not done in {args.timeout} s")
    seconds = completed(rig.engine, BURST_KEYS) - min(sent.values())
    maximum = count / seconds
    print(
        f"burst (warm-up): {count} orders as fast as possible, shipped and emailed in "
        f"{seconds:.1f} s: maximum {maximum:.1f} orders/s",
        flush=True,
    )
    return maximum


def print_windows(rows: list[Window]) -> None:
    print(f"\n{'window':<8}{'orders (by shipping)':<22}{'orders/s':>10}{'vs 1st':>9}", end="")
    print(f"{'p50 ms':>9}{'p99 ms':>9}")
    for i, row in enumerate(rows, 1):
        change = f"{100 * (row.per_second / rows[0].per_second - 1):+.1f}%" if i > 1 else "-"
        print(
            f"{i:<8}{f'{row.first}-{row.last}':<22}{row.per_second:>10.1f}{change:>9}"
            f"{row.p50_ms:>9.0f}{row.p99_ms:>9.0f}"
        )


def print_rss(labels: dict[int, str], before: dict[int, int], after: dict[int, int]) -> None:
    print(f"\n{'process':<18}{'pid':>8}{'start MiB':>11}{'end MiB':>10}{'growth':>9}")
    for pid, label in labels.items():
        print(f"{label:<18}{pid:>8}{_sizes(before[pid], after.get(pid))}")
    kept = [pid for pid in before if pid in after]
    total = _sizes(sum(before[pid] for pid in kept), sum(after[pid] for pid in kept))
    print(f"{'all' if len(kept) == len(before) else 'all not gone':<26}{total}")


def _sizes(start: int, end: int | None) -> str:
    if end is None:
        return f"{start / MIB:>11.1f}{'gone':>10}"
    return f"{start / MIB:>11.1f}{end / MIB:>10.1f}{100 * (end / start - 1):>+8.1f}%"


Goal = tuple[str, str, bool]  # what is asked, the worst measured, met


def rss_goal(labels: dict[int, str], before: dict[int, int], after: dict[int, int]) -> Goal:
    """Each process's RSS growth; a process gone (a pool process replaced) misses too."""
    growth = {pid: 100 * (after[pid] / before[pid] - 1) for pid in before if pid in after}
    gone = [labels[pid] for pid in before if pid not in after]
    worst = max(growth, key=growth.__getitem__)
    measured = f"{growth[worst]:+.1f}% ({labels[worst]})" + (
        f"; gone: {', '.join(gone)}" if gone else ""
    )
    met = growth[worst] < GOAL_RSS and not gone
    return f"RSS growth per process < {GOAL_RSS:.0f}%", measured, met


def throughput_goal(rows: list[Window]) -> Goal:
    """The largest decline of a later window's orders/s from the first window's."""
    asked = f"throughput decline from window 1 <= {GOAL_DECLINE:.0f}%"
    declines = {i: 100 * (1 - row.per_second / rows[0].per_second) for i, row in enumerate(rows)}
    worst = max(list(declines)[1:], key=declines.__getitem__, default=None)
    if worst is None:
        return asked, "only one window", True
    if declines[worst] <= 0:
        return asked, "none (no window below the first)", True
    return asked, f"{declines[worst]:.1f}% (window {worst + 1})", declines[worst] <= GOAL_DECLINE


def latency_goal(rows: list[Window]) -> Goal:
    worst = max(range(len(rows)), key=lambda i: rows[i].p99_ms)
    measured = f"{rows[worst].p99_ms:,.0f} ms (window {worst + 1})"
    return (
        f"p99 enqueue-to-shipped < {GOAL_P99_MS:,.0f} ms",
        measured,
        (rows[worst].p99_ms < GOAL_P99_MS),
    )


def print_summary(header: str, results: list[Goal]) -> None:
    width = max(len("worst measured"), *(len(measured) for _, measured, _ in results)) + 2
    print(f"\n{header}\n{'goal':<42}{'worst measured':<{width}}result")
    for goal, measured, met in results:
        print(f"{goal:<42}{measured:<{width}}{'PASS' if met else 'MISS'}")


def steady(args: argparse.Namespace, rig: Rig, rate: float, pids: list[int]) -> dict[str, float]:
    """Place the run's orders at `rate`, a line per window placed; key -> publish time."""

    def progress(placed: int, seconds: float) -> None:
        size = sum(rss(pids).values()) / MIB
        print(
            f"placed {placed}/{args.orders} in {seconds:.1f} s ({placed / seconds:.1f} orders/s"
            f" offered), workers' RSS {size:.1f} MiB",
            flush=True,
        )

    sent = place(rig.client, RUN_KEYS, rig.skus, args.orders, rate, progress, args.window)
    if not await_done(rig.engine, RUN_KEYS, args.orders, args.timeout):
        print(f"not every order was final {args.timeout:.0f} s after the last was placed")
    return sent


def soak(args: argparse.Namespace, rig: Rig) -> bool:
    """Burst, steady run, then the figures; True if every order shipped."""
    maximum = burst(args, rig)
    rate = args.rate or SHARE * maximum
    how = "--rate" if args.rate else f"{SHARE:.0%} of the burst's maximum"
    print(f"steady rate: {rate:.1f} orders/s ({how})", flush=True)
    labels = processes(rig.workers)
    before = rss(list(labels))
    started, total = time.monotonic(), int(args.orders)
    sent = steady(args, rig, rate, list(labels))
    seconds, after = time.monotonic() - started, rss(list(labels))
    done = shipped(rig.engine, RUN_KEYS)
    rows = windows(sent, done, args.window)
    if not rows:
        print("no order shipped")
        return False
    print_windows(rows)
    print_rss(labels, before, after)
    header = (
        f"{args.orders} orders, windows of {args.window}, broker {args.broker.split('://')[0]},"
        f" {WORKERS} workers x -c {args.concurrency}, {os.cpu_count()} cores,"
        f" {rate:.1f} orders/s ({how}), {seconds:.0f} s from the first order to the last done"
    )
    every = ("every order shipped", f"{len(done)} of {total}", len(done) == total)
    goals = [rss_goal(labels, before, after), throughput_goal(rows), latency_goal(rows), every]
    print_summary(header, goals)
    return len(done) == total


def forget_keys(broker: str, prefix: str) -> None:
    """Delete the run's Redis keys (its queues, bindings and unacked maps, all empty by now)."""
    store = redis.Redis.from_url(broker.replace("redis+socket://", "unix://"))
    for key in store.scan_iter(match=f"{prefix}*", count=1000):
        store.delete(key)
    store.close()


def rig(stack: ExitStack, args: argparse.Namespace) -> Rig:
    """Servers, the run's database and key prefix, the client and the two workers, each undone
    by `stack` (workers first, the database and the embedded servers last)."""
    use_servers(args, stack)
    stack.callback(shutil.rmtree, DATA_DIR, ignore_errors=True)  # the run's emails
    stack.callback(drop, args.database)
    database, skus = prepare(args.database)
    prefix = f"backroom-soak-{RUN}:" if args.broker.startswith("redis") else ""
    if prefix:
        stack.callback(forget_keys, args.broker, prefix)
    options = {"global_keyprefix": prefix} if prefix else {}
    client = BackroomClient(args.broker, transport_options=options)
    stack.callback(client.close)
    engine = make_engine(database, pool_size=1)
    stack.callback(engine.dispose)
    env = {**worker_env(args, outside_env(), database), "BACKROOM_BROKER_KEY_PREFIX": prefix}
    return Rig(client, engine, skus, start_workers(stack, args, env, client))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50000)
    parser.add_argument("--window", type=int, default=5000, help="orders per window")
    parser.add_argument(
        "--rate", type=float, help=f"orders/s (default {SHARE:.0%}% of the burst's maximum)"
    )
    parser.add_argument("--burst", type=int, default=1000, help="warm-up orders measuring the max")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker")
    parser.add_argument("--broker", default=os.environ.get("BACKROOM_BROKER_URL"))
    parser.add_argument("--redis", help="Redis for results (default: the broker if Redis)")
    parser.add_argument("--database", default=os.environ.get("BACKROOM_DATABASE_URL"))
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds to wait for the burst, and for the last orders once all are placed",
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        ok = soak(args, rig(stack, args))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
