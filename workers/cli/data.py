"""Commands for the data and its servers: `db` (migrations), `seed`, `embedded` and `demo`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from alembic import command

import migrations
from domain.db import make_engine, session_factory
from workers import embedded
from workers.cli.output import out, progress_bar
from workers.cli.servers import database
from workers.demo.seed import SeedReport, seed_catalog
from workers.settings import Settings


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    logging.getLogger("alembic").setLevel(logging.INFO)
    with database(settings) as url:
        cfg = migrations.config(url)
        if args.action == "upgrade":
            command.upgrade(cfg, args.revision or "head")
        elif args.action == "downgrade":
            command.downgrade(cfg, args.revision or "-1")
        elif args.action == "current":
            command.current(cfg, verbose=False)
        else:
            command.check(cfg)
    return 0


def run_seed(url: str, args: argparse.Namespace) -> SeedReport:
    """Seed the demo catalog at `url` with the counts in `args`, showing a bar while it runs."""
    engine = make_engine(url)
    try:
        with progress_bar("seeding") as progress:
            return seed_catalog(
                session_factory(engine),
                products=args.products,
                customers=args.customers,
                seed=args.seed,
                force=args.force,
                progress=progress,
            )
    finally:
        engine.dispose()


def print_seed_report(report: SeedReport) -> None:
    out("made:")
    for name, count in vars(report).items():
        out(f"  {name.replace('_', ' '):<16} {count:>8,}")


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as url:
        print_seed_report(run_seed(url, args))
    return 0


def cmd_embedded(settings: Settings, args: argparse.Namespace) -> int:
    data_dir = Path(settings.data_dir)
    if args.action == "start":
        servers = embedded.start_detached(data_dir)
        out(f"database_url   {servers.database_url}")
        out(f"broker_url     {servers.broker_url}")
        out("left running; stop them with `backroom embedded stop`")
    elif args.action == "stop":
        embedded.stop(data_dir)
        out(f"stopped the embedded servers in {data_dir}")
    else:
        for name, running in embedded.status(data_dir).items():
            out(f"{name:<10} {'running' if running else 'stopped'}")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from workers.demo.run import run  # imported here: the other commands need none of it

    return run(settings, args)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="migrations: upgrade, downgrade, current, check")
    db.add_argument("action", choices=["upgrade", "downgrade", "current", "check"])
    db.add_argument("revision", nargs="?", help="target (upgrade: head; downgrade: -1, base)")
    db.set_defaults(handler=cmd_db)
    seed = sub.add_parser("seed", help="fill a demo catalog and customers (deterministic)")
    _add_seed_options(seed, products=1000, customers=200)
    seed.set_defaults(handler=cmd_seed)
    emb = sub.add_parser("embedded", help="the embedded PostgreSQL and Redis under the data dir")
    emb.add_argument("action", choices=["start", "stop", "status"])
    emb.set_defaults(handler=cmd_embedded)
    _add_demo_parser(sub)


def _add_demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="the main job, on embedded servers if none configured")
    _add_seed_options(demo, products=500, customers=100)
    demo.add_argument("--orders", type=int, default=500, metavar="N", help="orders to place")
    demo.add_argument("-c", "--concurrency", type=int, default=4, help="worker processes")
    demo.add_argument("--timeout", type=float, default=600, help="seconds to wait for orders")
    demo.set_defaults(handler=cmd_demo)


def _add_seed_options(parser: argparse.ArgumentParser, products: int, customers: int) -> None:
    parser.add_argument("--products", type=int, default=products, metavar="N")
    parser.add_argument("--customers", type=int, default=customers, metavar="M")
    parser.add_argument("--seed", type=int, default=42, metavar="S", help="same S, same data")
    parser.add_argument(
        "--force", action="store_true", help="seed even if the database holds non-demo data"
    )
