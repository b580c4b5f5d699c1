"""Commands for operating the running system: `contract`, `sweep`, `order` and `dead-letters`."""

from __future__ import annotations

import argparse
import json

from sqlalchemy.orm import Session, sessionmaker

from domain import contracts, steps
from domain.db import make_engine, session_factory, unit_of_work
from domain.models import DeadLetter, DeadLetterStatus
from domain.ports import SystemClock
from domain.services import dead_letters, orders
from workers.cli.output import fail, out
from workers.cli.servers import database, served
from workers.settings import Settings


def cmd_contract(_settings: Settings, _args: argparse.Namespace) -> int:
    out(json.dumps(contracts.contract_document(), indent=2, sort_keys=True))
    return 0


def _factory(url: str) -> sessionmaker[Session]:
    return session_factory(make_engine(url, pool_size=0))


def cmd_sweep(settings: Settings, _args: argparse.Namespace) -> int:
    """One sweep now, as the beat's would run: republish what is stuck in the outbox, re-drive
    stuck orders, publish what that asks for."""
    with served(settings):
        from workers.base import execute

        counts = execute(steps.SWEEP, (), {})
    out(json.dumps(counts))
    return 0


def cmd_order(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as url, unit_of_work(_factory(url)) as session:
        result = orders.status(session, args.number)
    out(json.dumps(result, indent=2))
    return 0


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
            _list_letters(factory, args)
        elif args.action == "show":
            _show_letter(factory, args.id)
        else:
            return _resolve(factory, args)
    return 0


def _list_letters(factory: sessionmaker[Session], args: argparse.Namespace) -> None:
    status = None if args.all else DeadLetterStatus.OPEN
    with unit_of_work(factory) as s:
        letters = dead_letters.listing(s, status=status)
    out(f"{'id':>6}  {'created (UTC)':<19}  {'status':<9}  {'task':<18}  reason")
    for letter in letters:
        stamp = letter.created_at.strftime("%Y-%m-%d %H:%M:%S")
        reason = letter.reason.replace("\n", " ")[:80]
        out(f"{letter.id:>6}  {stamp:<19}  {letter.status.value:<9}  {letter.task:<18}  {reason}")


def _show_letter(factory: sessionmaker[Session], letter_id: int) -> None:
    with unit_of_work(factory) as s:
        letter = dead_letters.get(s, letter_id)
    out(json.dumps(_as_dict(letter), indent=2, default=str))


def _as_dict(letter: DeadLetter) -> dict[str, object]:
    return {c.key: getattr(letter, c.key) for c in letter.__table__.columns}


def _resolve(factory: sessionmaker[Session], args: argparse.Namespace) -> int:
    """Mark the letter replayed or discarded; a replay also sends its task again."""
    now = SystemClock().now()
    status = DeadLetterStatus.REPLAYED if args.action == "replay" else DeadLetterStatus.DISCARDED
    note = args.note or f"{args.action} from the command line"
    with unit_of_work(factory) as s:
        letter = dead_letters.resolve(s, args.id, status, note, now)
    if status == DeadLetterStatus.REPLAYED:
        _replay(letter)
    else:
        out(f"discarded dead letter {letter.id}")
    return 0


def _replay(letter: DeadLetter) -> None:
    from workers.app import app

    payload = letter.payload if isinstance(letter.payload, dict) else {}
    args = payload.get("args") or []
    kwargs = payload.get("kwargs") or {}
    result = app.send_task(letter.task, args=args, kwargs=kwargs)
    out(f"replayed dead letter {letter.id} as task {result.id}")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
