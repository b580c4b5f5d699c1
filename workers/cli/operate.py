"""Commands for operating the running system: `contract`, `sweep`, `order`, `dead-letters`
and `secret-key`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from domain import contracts, secrets, steps
from domain.db import make_engine, session_factory, unit_of_work
from domain.models import DeadLetter, DeadLetterStatus
from domain.ports import SystemClock
from domain.services import dead_letters, orders
from workers.cli.output import fail, out
from workers.cli.servers import database, served
from workers.request import redacted_repr
from workers.runtime import sealer
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
            return _resolve(_factory(urls.database_url), args, settings)
    with database(settings) as url:
        factory = _factory(url)
        if args.action == "list":
            _list_letters(factory, args)
        elif args.action == "show":
            _show_letter(factory, args.id)
        else:
            return _resolve(factory, args, settings)
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
    """The whole letter, its payment tokens redacted (`tok_…(fingerprint 1a2b3c4d)`)."""
    with unit_of_work(factory) as s:
        letter = dead_letters.get(s, letter_id)
        shown = _as_dict(letter) | {"payload": dead_letters.shown(letter)}
    out(json.dumps(shown, indent=2, default=str, ensure_ascii=False))


def _as_dict(letter: DeadLetter) -> dict[str, object]:
    return {c.key: getattr(letter, c.key) for c in letter.__table__.columns}


def _resolve(factory: sessionmaker[Session], args: argparse.Namespace, settings: Settings) -> int:
    """Mark the letter replayed or discarded; a replay also sends its task again, its payment
    tokens opened first (a token that cannot be opened leaves the letter open)."""
    now = SystemClock().now()
    status = DeadLetterStatus.REPLAYED if args.action == "replay" else DeadLetterStatus.DISCARDED
    note = args.note or f"{args.action} from the command line"
    with unit_of_work(factory) as s:
        if status == DeadLetterStatus.REPLAYED and _not_a_task(dead_letters.get(s, args.id)):
            return 1
        letter = dead_letters.resolve(s, args.id, status, note, now)
        if status == DeadLetterStatus.REPLAYED:
            task_args, task_kwargs = dead_letters.replayed(letter, sealer(settings))
    if status == DeadLetterStatus.REPLAYED:
        _replay(letter, task_args, task_kwargs)
    else:
        out(f"discarded dead letter {letter.id}")
    return 0


def _not_a_task(letter: DeadLetter) -> bool:
    """True, said on stderr, for a message kept because it was not a task (a body that is not
    JSON, a pickle, an unknown task, ...: `workers.undecodable`): there is no task to send."""
    from workers.message_letter import ERROR_TYPE

    if letter.error_type != ERROR_TYPE:
        return False
    fail(
        f"dead letter {letter.id} cannot be replayed: it is a message that was not a task"
        f" ({letter.reason}), so nothing was sent; have its sender send it again as a task,"
        f" then discard it (`backroom dead-letters discard {letter.id}`)"
    )
    return True


def _replay(letter: DeadLetter, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Send the letter's task again, its arguments shown redacted (`argsrepr`, `kwargsrepr`:
    what the worker's log, its events and Flower show)."""
    from workers.app import app

    result = app.send_task(
        letter.task,
        args=args,
        kwargs=kwargs,
        argsrepr=redacted_repr(args),
        kwargsrepr=redacted_repr(kwargs),
    )
    out(f"replayed dead letter {letter.id} as task {result.id}")


def cmd_secret_key(_settings: Settings, _args: argparse.Namespace) -> int:
    """A new key for `BACKROOM_SECRET_KEYS` (put it first to rotate: the others still open)."""
    out(secrets.new_key())
    return 0


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
    sub.add_parser(
        "secret-key", help="print a new key for BACKROOM_SECRET_KEYS (seals payment tokens)"
    ).set_defaults(handler=cmd_secret_key)
