"""Operator commands: worker, beat, flower, sweep, contract, order status, dead letters."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from domain import contracts, uow
from domain.db import make_engine, session_factory
from domain.models import DeadLetter, DeadLetterStatus
from domain.ports import SystemClock
from domain.services import dead_letters, orders
from workers import embedded
from workers.settings import Settings


def out(line: str = "") -> None:
    print(line, flush=True)


def fail(message: str) -> None:
    print(f"backroom: {message}", file=sys.stderr, flush=True)


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database URL, or the embedded server's (started if need be)."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    with embedded.embedded_servers(Path(settings.data_dir), redis=False) as servers:
        assert servers.database_url is not None
        yield servers.database_url


@contextmanager
def served(settings: Settings) -> Iterator[embedded.EmbeddedServers]:
    """Resolve the URLs (embedding what is not configured) and export them for the app."""
    with embedded.resolve_urls(settings) as urls:
        for name, value in vars(urls).items():
            if value is not None:
                os.environ[f"BACKROOM_{name.upper()}"] = value
        yield urls


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    with served(settings):
        from workers.app import app

        argv = ["worker", "-Q", args.queues, "-c", str(args.concurrency), "-l", args.loglevel]
        argv += ["-P", args.pool]
        if args.hostname:
            argv += ["-n", args.hostname]
        app.worker_main(argv)
    return 0


def cmd_beat(settings: Settings, args: argparse.Namespace) -> int:
    from scheduler.leader import leadership
    from scheduler.schedule import beat_schedule

    logging.getLogger("backroom.beat").setLevel(logging.INFO)  # say who is active, who waits
    with served(settings) as urls:
        from workers.app import app

        assert urls.database_url is not None
        engine = make_engine(urls.database_url, pool_size=0)
        with leadership(engine):
            app.conf.beat_schedule = beat_schedule(settings)
            schedule = Path(settings.data_dir) / "celerybeat-schedule"
            schedule.parent.mkdir(parents=True, exist_ok=True)
            app.Beat(schedule=str(schedule), loglevel=args.loglevel).run()
        engine.dispose()
    return 0


def cmd_flower(settings: Settings, args: argparse.Namespace) -> int:
    if settings.flower_password is None or not settings.flower_password.get_secret_value():
        fail("BACKROOM_FLOWER_PASSWORD must be set (not empty): Flower runs with authentication")
        return 2
    with served(settings):
        from workers.app import app

        os.environ["FLOWER_BASIC_AUTH"] = (
            f"{settings.flower_user}:{settings.flower_password.get_secret_value()}"
        )
        app.start(["flower", f"--port={args.port}", f"--address={args.address}"])
    return 0


def cmd_contract(_settings: Settings, _args: argparse.Namespace) -> int:
    out(json.dumps(contracts.contract_document(), indent=2, sort_keys=True))
    return 0


def _factory(url: str):  # type: ignore[no-untyped-def]
    return session_factory(make_engine(url, pool_size=0))


def cmd_sweep(settings: Settings, _args: argparse.Namespace) -> int:
    """One sweep now: republish what is stuck in the outbox, re-drive stuck orders."""
    with served(settings):
        from tasks.orders import sweep_orders
        from workers.runtime import runtime

        runtime()
        counts = sweep_orders.run()
    out(json.dumps(counts))
    return 0


def cmd_order(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as url:
        result, _ = uow.run(_factory(url), lambda s: orders.status(s, args.number))
    out(json.dumps(result, indent=2))
    return 0


def _print_letters(letters: list[DeadLetter]) -> None:
    out(f"{'id':>6}  {'created (UTC)':<19}  {'status':<9}  {'task':<18}  reason")
    for letter in letters:
        stamp = letter.created_at.strftime("%Y-%m-%d %H:%M:%S")
        reason = letter.reason.replace("\n", " ")[:80]
        out(f"{letter.id:>6}  {stamp:<19}  {letter.status.value:<9}  {letter.task:<18}  {reason}")


def cmd_dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    if args.action != "list" and args.id is None:
        fail(f"dead-letters {args.action} needs the letter's id")
        return 2
    if args.action == "replay":  # the only one that talks to the broker
        with served(settings) as urls:
            assert urls.database_url is not None
            return _resolve(_factory(urls.database_url), args)
    with database(settings) as url:
        factory = _factory(url)
        if args.action == "list":
            status = None if args.all else DeadLetterStatus.OPEN
            letters, _ = uow.run(factory, lambda s: dead_letters.listing(s, status=status))
            _print_letters(letters)
        elif args.action == "show":
            letter, _ = uow.run(factory, lambda s: dead_letters.get(s, args.id))
            out(json.dumps(_as_dict(letter), indent=2, default=str))
        else:
            return _resolve(factory, args)
    return 0


def _as_dict(letter: DeadLetter) -> dict[str, object]:
    return {c.key: getattr(letter, c.key) for c in letter.__table__.columns}


def _resolve(factory, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    now = SystemClock().now()
    status = DeadLetterStatus.REPLAYED if args.action == "replay" else DeadLetterStatus.DISCARDED
    note = args.note or f"{args.action} from the command line"
    letter, _ = uow.run(factory, lambda s: dead_letters.resolve(s, args.id, status, note, now))
    if status == DeadLetterStatus.REPLAYED:
        from workers.app import app

        payload = letter.payload if isinstance(letter.payload, dict) else {}
        args_ = payload.get("args") or []
        kwargs = payload.get("kwargs") or {}
        result = app.send_task(letter.task, args=args_, kwargs=kwargs)
        out(f"replayed dead letter {letter.id} as task {result.id}")
    else:
        out(f"discarded dead letter {letter.id}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    worker = sub.add_parser("worker", help="start a Celery worker")
    worker.add_argument("-Q", "--queues", default="orders,inventory,payments,notifications,reports")
    worker.add_argument("-c", "--concurrency", type=int, default=os.cpu_count() or 2)
    worker.add_argument("-n", "--hostname", default=None)
    worker.add_argument("-l", "--loglevel", default="INFO")
    worker.add_argument("-P", "--pool", default="prefork", help="prefork (default), solo, threads")
    worker.set_defaults(handler=cmd_worker)
    beat = sub.add_parser("beat", help="start Celery beat (one active at a time)")
    beat.add_argument("-l", "--loglevel", default="INFO")
    beat.set_defaults(handler=cmd_beat)
    flower = sub.add_parser("flower", help="start Flower with basic authentication")
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="127.0.0.1")
    flower.set_defaults(handler=cmd_flower)
    sub.add_parser("contract", help="print the public contract (JSON Schema)").set_defaults(
        handler=cmd_contract
    )
    sub.add_parser(
        "sweep", help="republish the outbox and re-drive stuck orders, once"
    ).set_defaults(handler=cmd_sweep)
    order = sub.add_parser("order", help="show an order's status and history")
    order.add_argument("number")
    order.set_defaults(handler=cmd_order)
    letters = sub.add_parser("dead-letters", help="list, show, replay or discard dead letters")
    letters.add_argument("action", choices=["list", "show", "replay", "discard"])
    letters.add_argument("id", type=int, nargs="?")
    letters.add_argument("--all", action="store_true", help="list: include resolved ones")
    letters.add_argument("--note", help="replay/discard: why")
    letters.set_defaults(handler=cmd_dead_letters)
