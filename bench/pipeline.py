"""Benchmark (not a test): the order pipeline against two baselines, same broker, same database.

    .venv/bin/python bench/pipeline.py --orders 500 [--broker redis://...|amqp://...]

1. Celery's own machinery: a chain of 4 no-op tasks per order (`bench/noop_app.py`).
2. The pipeline: N orders through `orders.place` ... `notifications.send` on real workers:
   5 messages per shipped order (place, reserve, capture, fulfil, one send for both emails);
   a chain of 5 no-ops is measured too, as the same number of Celery hops.
3. The same SQL done by one plain psycopg2 loop (`bench/plain_sql.py`).
Prints orders/s, p50/p99 enqueue-to-final latency, worker CPU per order (the loop's own CPU
for the plain loop) and the local servers' CPU per order (PostgreSQL, Redis, RabbitMQ) for
each, and the pipeline's share of the no-op chain rate (the target is at least 0.5).
The baselines and the pipeline are measured in alternating rounds (`--rounds`, default 3) and
each figure is the median over the rounds: a shared VM drifts by 10-20 % within minutes, which
a single sequential run would book against whichever part ran in the slow minute.
`BENCH_LOG_LEVEL=INFO` keeps the pipeline worker's per-task timings in `bench/pipeline.log`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psutil
import redis
from alembic import command
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import plain_sql  # noqa: E402

import migrations  # noqa: E402
from backroom_client import BackroomClient  # noqa: E402
from domain.db import make_engine, session_factory, to_url  # noqa: E402
from workers.demo.seed import seed_catalog  # noqa: E402

RUN = uuid.uuid4().hex[:8]
DATA_DIR = REPO / ".backroom" / f"bench-{RUN}"  # the run's emails (the simulated provider's files)
ADDRESS = {
    "name": "B",
    "line1": "1 Bench St",
    "city": "Testville",
    "postal_code": "12345",
    "country": "US",
}


@contextmanager
def spawned(argv: list[str], env: dict[str, str], log: Path) -> Iterator[psutil.Process]:
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield psutil.Process(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _cpu(processes: Iterable[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def cpu_seconds(root: psutil.Process) -> float:
    """CPU seconds used so far by `root` and its children."""
    return _cpu([root, *root.children(recursive=True)])


SERVERS = frozenset({"postgres", "redis-server", "beam.smp"})


def servers_cpu() -> float:
    """CPU seconds used so far by the local PostgreSQL, Redis and RabbitMQ processes."""
    return _cpu(p for p in psutil.process_iter(["name"]) if p.info["name"] in SERVERS)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def figures(
    sent: dict[str, float], done: dict[str, float], cpu: float, servers: float
) -> dict[str, float]:
    latencies = [done[k] - sent[k] for k in sent if k in done]
    span = max(done.values()) - min(sent.values())
    return {
        "orders_per_second": len(done) / span,
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "cpu_ms_per_order": 1000 * cpu / len(sent),
        "servers_ms_per_order": 1000 * servers / len(sent),
    }


def wait_ready(app: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not app.control.ping(timeout=1):
        if time.monotonic() > deadline:
            raise SystemExit("a benchmark worker did not start (see bench/*.log)")


def bench_noop(
    args: argparse.Namespace, env: dict[str, str], hops: int = 4, round_: int = 0
) -> dict[str, float]:
    env = {
        **env,
        "BENCH_BROKER_URL": args.broker,
        "BENCH_REDIS_URL": args.redis,
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("BENCH_")})
    import noop_app
    from celery import chain

    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "noop_app",
        "worker",
        "-c",
        str(args.concurrency),
        "-Q",
        "bench-noop",
        "-l",
        "WARNING",
    ]
    with spawned(
        argv, {**env, "PYTHONPATH": str(REPO / "bench")}, REPO / "bench" / "noop.log"
    ) as worker:
        wait_ready(noop_app.app)
        cpu0, servers0, sent = cpu_seconds(worker), servers_cpu(), {}
        for n in range(args.orders):
            key = str(n)
            sent[key] = time.time()
            run = f"{RUN}-{round_}-{hops}"
            noops = [noop_app.noop.si() for _ in range(hops - 1)]
            chain(*noops, noop_app.done.si(key, run)).apply_async()
        store = redis.Redis.from_url(args.redis.replace("redis+socket://", "unix://"))
        while store.hlen(f"bench:{RUN}-{round_}-{hops}") < args.orders:
            time.sleep(0.05)
        done = {
            k.decode(): float(v) for k, v in store.hgetall(f"bench:{RUN}-{round_}-{hops}").items()
        }
        cpu, servers = cpu_seconds(worker) - cpu0, servers_cpu() - servers0
        store.delete(f"bench:{RUN}-{round_}-{hops}")
    return figures(sent, done, cpu, servers)


def _finals(engine: Any, prefix: str) -> dict[str, float]:
    query = text(
        "SELECT o.idempotency_key, extract(epoch FROM max(h.created_at)) FROM orders o "
        "JOIN order_status_history h ON h.order_id = o.id WHERE o.status IN "
        "('shipped', 'cancelled', 'refunded') AND o.idempotency_key LIKE :keys GROUP BY 1"
    )
    with engine.connect() as conn:
        return {key: float(at) for key, at in conn.execute(query, {"keys": f"{prefix}%"})}


def worker_env(args: argparse.Namespace, env: dict[str, str], database: str) -> dict[str, str]:
    """A pipeline worker's environment: `env` plus the run's database, broker and result store,
    and the simulated mail provider writing under the run's own folder (`DATA_DIR`)."""
    return {
        **env,
        "BACKROOM_DATABASE_URL": database,
        "BACKROOM_BROKER_URL": args.broker,
        "BACKROOM_RESULT_BACKEND": args.redis,
        "BACKROOM_MAILER": "file",
        "BACKROOM_DATA_DIR": str(DATA_DIR),
    }


def worker_argv(concurrency: int) -> list[str]:
    """`backroom worker` on every queue with `concurrency` pool processes."""
    level = os.environ.get("BENCH_LOG_LEVEL", "WARNING")
    return [sys.executable, "-m", "workers.cli", "worker", "-c", str(concurrency), "-l", level]


def place(
    client: BackroomClient,
    prefix: str,
    skus: list[str],
    count: int,
    rate: float | None,
    each_window: Callable[[int, float], None] | None = None,
    window: int = 0,
) -> dict[str, float]:
    """Publish `count` orders, `rate` per second on a fixed schedule (None: as fast as possible);
    key -> publish time. `each_window(placed, seconds)` is called after every `window` orders."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    for n in range(count):
        if rate and (delay := start + n / rate - time.monotonic()) > 0:
            time.sleep(delay)  # pacing the client: there is no condition to wait for
        key = f"{prefix}{n}"
        sent[key] = time.time()
        client.place_order(
            idempotency_key=key,
            customer_email=f"c{n % 50}@example.com",
            currency="USD",
            lines=[{"sku": skus[n % len(skus)], "quantity": 1}],
            shipping_address=ADDRESS,
            payment_token="tok_ok",
        )
        if each_window and window and (n + 1) % window == 0:
            each_window(n + 1, time.monotonic() - start)
    return sent


def bench_pipeline(
    args: argparse.Namespace, env: dict[str, str], database: str, skus: list[str], round_: int = 0
) -> dict[str, float]:
    engine = make_engine(database, pool_size=1)
    client = BackroomClient(args.broker)
    argv = worker_argv(args.concurrency)
    with spawned(argv, worker_env(args, env, database), REPO / "bench" / "pipeline.log") as worker:
        wait_ready(client.app)
        cpu0, servers0 = cpu_seconds(worker), servers_cpu()
        sent = place(client, f"bench-{RUN}-{round_}-", skus, args.orders, rate=None)
        done: dict[str, float] = {}
        while len(done) < args.orders:
            time.sleep(0.25)
            done = _finals(engine, f"bench-{RUN}-{round_}-")
        with engine.connect() as conn:  # the emails of the last orders go out after 'shipped'
            while conn.execute(
                text("SELECT count(*) FROM notifications WHERE status <> 'sent'")
            ).scalar():
                time.sleep(0.1)
                conn.rollback()
        cpu, servers = cpu_seconds(worker) - cpu0, servers_cpu() - servers0
    client.close()
    engine.dispose()
    return figures(sent, done, cpu, servers)


def bench_plain(database: str, orders: int) -> dict[str, float]:
    dsn = to_url(database).set(drivername="postgresql").render_as_string(hide_password=False)
    return plain_sql.run(str(dsn), orders, servers_cpu)


def prepare(server: str) -> tuple[str, list[str]]:
    """A fresh database for this run, migrated and seeded with stock to spare."""
    url = to_url(server)
    name = f"backroom_bench_{RUN}"
    admin = make_engine(url.set(database="postgres"), pool_size=0).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    database = url.set(database=name).render_as_string(hide_password=False)
    command.upgrade(migrations.config(database), "head")
    engine = make_engine(database, pool_size=1)
    seed_catalog(session_factory(engine), products=100, customers=50, seed=7)
    with engine.begin() as conn:
        conn.execute(text("UPDATE inventory SET quantity_on_hand = 1000000"))
        skus = list(
            conn.execute(
                text(
                    "SELECT p.sku FROM products p WHERE NOT EXISTS "
                    "(SELECT 1 FROM product_variants v WHERE v.product_id = p.id) "
                    "ORDER BY p.sku LIMIT 50"
                )
            ).scalars()
        )
    engine.dispose()
    return database, skus


def drop(server: str) -> None:
    url = to_url(server)
    admin = make_engine(url.set(database="postgres"), pool_size=0).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "backroom_bench_{RUN}" WITH (FORCE)'))


CHAIN4, CHAIN5, PIPELINE, PLAIN = (
    "no-op chain of 4",
    "no-op chain of 5",
    "pipeline (5 hops)",
    "plain SQL loop (1 conn)",
)


def share(round_: dict[str, dict[str, float]], baseline: str) -> float:
    """The pipeline's rate over `baseline`'s, in one round."""
    return round_[PIPELINE]["orders_per_second"] / round_[baseline]["orders_per_second"]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(rounds: list[dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    """Each figure is the median over the rounds; the shares are per round, then their median."""
    broker = args.broker.split("://")[0]
    cores = os.cpu_count()
    print(
        f"\n{args.orders} orders x {len(rounds)} rounds, broker {broker}, "
        f"worker -c {args.concurrency}, {cores} cores (medians over the rounds)"
    )
    print(
        f"{'':<26}{'orders/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/order':>14}"
        f"{'servers CPU':>13}"
    )
    nan = float("nan")
    for name in dict.fromkeys(name for r in rounds for name in r):
        got = [r[name] for r in rounds if name in r]
        row = {key: median([g.get(key, nan) for g in got]) for key in got[0]}
        print(
            f"{name:<26}{row['orders_per_second']:>10.1f}{row.get('p50_ms', nan):>10.0f}"
            f"{row.get('p99_ms', nan):>10.0f}{row.get('cpu_ms_per_order', nan):>14.1f}"
            f"{row.get('servers_ms_per_order', nan):>13.1f}"
        )
    for baseline, note in ((CHAIN4, " (target >= 0.50)"), (CHAIN5, " (the same Celery hops)")):
        shares = [share(r, baseline) for r in rounds]
        each = ", ".join(f"{value:.2f}" for value in shares)
        print(f"pipeline / {baseline}: median {median(shares):.2f}{note}; rounds: {each}")


def use_servers(args: argparse.Namespace, stack: ExitStack) -> None:
    """Fill in `args.database`, `args.broker` and `args.redis`: the servers given, else the
    embedded ones under `.backroom/` (started on `stack`); results go to the broker if it is
    Redis, else to the local Redis."""
    if not args.database or not (args.broker or args.redis):
        from workers.embedded import embedded_servers

        servers = stack.enter_context(embedded_servers(REPO / ".backroom"))
        args.database = args.database or servers.database_url
        args.broker = args.broker or servers.broker_url
    args.redis = args.redis or (
        args.broker if args.broker.startswith("redis") else "redis://127.0.0.1:6379/0"
    )


def outside_env() -> dict[str, str]:
    """This process's environment without `BACKROOM_*`: the workers get theirs from the bench."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=3, help="baselines and pipeline measured this many times"
    )
    parser.add_argument("--broker", default=os.environ.get("BACKROOM_BROKER_URL"))
    parser.add_argument(
        "--redis", default=None, help="Redis for results (default: the broker if Redis)"
    )
    parser.add_argument(
        "--database", default=os.environ.get("BACKROOM_DATABASE_URL"), help="a PostgreSQL server"
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        use_servers(args, stack)
        database, skus = prepare(args.database)
        env = outside_env()
        rounds: list[dict[str, dict[str, float]]] = []
        try:
            for round_ in range(args.rounds):  # alternating, so a drifting machine hits all alike
                rounds.append(
                    {
                        CHAIN4: bench_noop(args, env, 4, round_),
                        CHAIN5: bench_noop(args, env, 5, round_),
                        PIPELINE: bench_pipeline(args, env, database, skus, round_),
                    }
                )
                print(
                    f"round {round_ + 1}/{args.rounds}: pipeline / chain of 4 ="
                    f" {share(rounds[-1], CHAIN4):.2f}"
                )
            rounds[-1][PLAIN] = bench_plain(database, args.orders)
        finally:
            drop(args.database)
            shutil.rmtree(DATA_DIR, ignore_errors=True)  # its emails
        report(rounds, args)


if __name__ == "__main__":
    main()
