"""The books every chaos test ends with, read from the database and from the mail server.

`check(engine, smtp, shop, say)` reads them once the run's processes are stopped, prints what
it counted and fails naming every invariant that does not hold:

1. Orders: every order the test sent is there and final, with a fate its payment token and
   the stock allow, and as many of each fate as the shop makes (30 declined, 20 out of stock).
2. Money: the simulated provider's own ledger (`payment_sim.payments`) charged exactly the
   shipped orders. Per order, captured minus refunded is the order's total if it shipped and 0
   if it did not, and the ledger holds no payment that is not one of our orders'.
3. Stock: conserved per SKU (units on hand plus units shipped is the stock the test started
   with; nothing left reserved), and the movements' ledger agrees (units out are units
   shipped; reserved minus released minus out is what is still reserved). Nothing went below
   zero: no stock row and no movement's resulting quantity (the database's CHECKs forbid it;
   a run that hit them shows here as an order not final or a dead letter).
4. Emails: exactly one per (order, kind). Each order has the notifications its fate calls for
   (a shipped order its confirmation and shipping email, a declined one `payment_failed`,
   one out of stock `order_cancelled`), each marked sent, and the mail server accepted
   exactly one message per notification: counted by Message-ID (`<notification id>@backroom`)
   among the messages it holds, none missing, none twice, no customer message that is no
   notification's, each with its notification's kind and recipient. Vendors' reorder emails
   (`X-Backroom-Kind: reorder_request`: the scarce SKU runs out, and an hourly check may run)
   are counted apart; any other message is extra.
   One exception, and only where a test kills senders (`killed` > 0): an email whose sender
   was SIGKILLed after the mail server accepted it and before the mark was recorded goes out
   again when its lease ends, with the same Message-ID. That is the one window the design
   leaves (README, "Email, once"). Such a repeat passes only as exactly two copies of one
   Message-ID whose notification was claimed again (attempts >= 2), and there can be no more
   of them than kills.
5. Dead letters: none. Every fault the tests inject is transient.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from domain.services import reorder
from tests.e2e.harness import rows, scalar

if TYPE_CHECKING:
    from tests.chaos.workload import Shop
    from tests.smtp_server import SmtpServer

SHIPPED = "shipped"
DECLINED = "cancelled: payment declined"
UNPAID = "cancelled: out of stock"
_EMAILS = {
    SHIPPED: frozenset({"order_confirmed", "order_shipped"}),
    DECLINED: frozenset({"payment_failed"}),
    UNPAID: frozenset({"order_cancelled"}),
}
_SHOWN = 5  # examples printed per problem


def fate(status: str, payment_status: str) -> str:
    """What became of an order, as the shop's expectations name it."""
    if status == "shipped":
        return SHIPPED
    if status == "cancelled" and payment_status == "failed":
        return DECLINED
    if status == "cancelled" and payment_status == "cancelled":
        return UNPAID
    return f"{status} (payment {payment_status})"


@dataclass
class Books:
    """What the database and the mail server hold at the end of a run, and what is wrong."""

    lines: list[str] = field(default_factory=list)  # what was counted, to print
    problems: list[str] = field(default_factory=list)

    def count(self, text: str) -> None:
        self.lines.append(text)

    def require(self, holds: bool, problem: str) -> None:
        if not holds:
            self.problems.append(problem)


def _examples(items: list[Any]) -> str:
    shown = ", ".join(str(item) for item in items[:_SHOWN])
    return shown + (f" (and {len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


def _orders(engine: Engine, shop: Shop, books: Books) -> dict[str, str]:
    found = {
        row.idempotency_key: fate(row.status, row.payment_status)
        for row in rows(engine, "SELECT idempotency_key, status, payment_status FROM orders")
    }
    outcome = Counter(found.values())
    books.count(
        f"orders: {len(found)} of {len(shop.orders)} sent; "
        + ", ".join(f"{what} {n}" for what, n in sorted(outcome.items()))
    )
    missing = sorted(set(shop.orders) - set(found))
    strangers = sorted(set(found) - set(shop.orders))
    books.require(
        not missing, f"orders: {len(missing)} sent and never placed: {_examples(missing)}"
    )
    books.require(
        not strangers, f"orders: {len(strangers)} never sent by the test: {_examples(strangers)}"
    )
    wrong = sorted(
        f"{key}: {what}" for key, what in found.items() if what not in shop.fates.get(key, ())
    )
    books.require(
        not wrong, f"orders: {len(wrong)} not final or not as decided: {_examples(wrong)}"
    )
    books.require(
        outcome == shop.outcome,
        f"orders: came to {dict(outcome)}, expected {dict(shop.outcome)}",
    )
    return found


def _money(engine: Engine, fates: dict[str, str], books: Books) -> None:
    ledger = rows(
        engine,
        "SELECT o.idempotency_key AS key, o.total_amount AS total, s.key IS NOT NULL AS known,"
        " CASE WHEN s.captured_at IS NOT NULL THEN s.amount ELSE 0 END AS captured,"
        " coalesce(s.refunded_amount, 0) AS refunded"
        " FROM orders o JOIN payments p ON p.order_id = o.id"
        " LEFT JOIN payment_sim.payments s ON s.key = p.idempotency_key",
    )
    wrong = []
    for row in ledger:
        what = fates.get(row.key)
        owed = row.total if what == SHIPPED else 0
        if row.captured - row.refunded != owed:
            paid = f"captured {row.captured} cents, refunded {row.refunded}"
            wrong.append(f"{row.key} ({what}): {paid}, owed {owed}")
    stray = rows(
        engine,
        "SELECT s.key, s.status, s.amount FROM payment_sim.payments s WHERE NOT EXISTS"
        " (SELECT 1 FROM payments p WHERE p.idempotency_key = s.key)",
    )
    captured = sum(row.captured for row in ledger)
    refunded = sum(row.refunded for row in ledger)
    shipped_total = sum(row.total for row in ledger if fates.get(row.key) == SHIPPED)
    charged = sum(1 for row in ledger if row.captured)
    books.count(
        f"provider: {sum(row.known for row in ledger)} payments, {charged} captured,"
        f" {captured} cents captured - {refunded} refunded = {captured - refunded};"
        f" shipped orders' totals {shipped_total} cents"
    )
    books.require(not wrong, f"money: {len(wrong)} orders charged wrong: {_examples(wrong)}")
    books.require(not stray, f"money: {len(stray)} provider payments of no order: {stray[:3]}")
    books.require(
        captured - refunded == shipped_total,
        f"money: provider net {captured - refunded} cents != shipped totals {shipped_total}",
    )


def _stock(engine: Engine, shop: Shop, books: Books) -> None:
    shelves = rows(
        engine,
        """
        SELECT p.sku, i.quantity_on_hand AS on_hand, i.quantity_reserved AS reserved,
               coalesce(sum(m.quantity) FILTER (WHERE m.movement_type = 'in'), 0) AS put_in,
               coalesce(sum(m.quantity) FILTER (WHERE m.movement_type = 'out'), 0) AS taken_out,
               coalesce(sum(m.quantity) FILTER (WHERE m.movement_type = 'reserve'), 0) AS held,
               coalesce(sum(m.quantity) FILTER (WHERE m.movement_type = 'release'), 0) AS freed,
               min(m.resulting_quantity) AS lowest_on_hand,
               min(m.resulting_reserved) AS lowest_reserved
        FROM inventory i JOIN products p ON p.id = i.product_id
        LEFT JOIN inventory_movements m ON m.inventory_id = i.id
        GROUP BY p.sku, i.quantity_on_hand, i.quantity_reserved ORDER BY p.sku
        """,
    )
    shipped = dict(
        rows(
            engine,
            "SELECT i.product_sku, sum(i.quantity) FROM order_items i"
            " JOIN orders o ON o.id = i.order_id WHERE o.status = 'shipped' GROUP BY 1",
        )
    )
    for row in shelves:
        start, out = shop.stock.get(row.sku, 0), int(shipped.get(row.sku, 0))
        books.count(
            f"stock {row.sku}: started {start}, on hand {row.on_hand}, shipped {out},"
            f" reserved {row.reserved}; ledger in {row.put_in} out {row.taken_out}"
            f" reserve {row.held} release {row.freed}; lowest on hand {row.lowest_on_hand},"
            f" lowest reserved {row.lowest_reserved}"
        )
        sku = f"stock {row.sku}"
        books.require(
            row.on_hand + out == start,
            f"{sku}: on hand {row.on_hand} + shipped {out} != started with {start}",
        )
        books.require(row.reserved == 0, f"{sku}: {row.reserved} units still reserved")
        books.require(row.taken_out == out, f"{sku}: ledger out {row.taken_out} != shipped {out}")
        books.require(
            row.held - row.freed - row.taken_out == row.reserved and row.put_in == 0,
            f"{sku}: ledger does not add up to the stock row ({row.held} held,"
            f" {row.freed} released, {row.taken_out} out, {row.put_in} in)",
        )
        lowest = [row.on_hand, row.lowest_on_hand or 0, row.lowest_reserved or 0]
        books.require(min(lowest) >= 0, f"{sku}: went below zero")


@dataclass
class _Sink:
    """The mail server's messages, sorted: customer emails by Message-ID, vendors', others."""

    copies: Counter[str] = field(default_factory=Counter)
    kinds: dict[str, set[str]] = field(default_factory=dict)
    recipients: dict[str, set[str]] = field(default_factory=dict)
    vendor: int = 0
    other: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, smtp: SmtpServer) -> _Sink:
        sink = cls()
        for received in smtp.messages:
            kind = str(received.message["X-Backroom-Kind"] or "")
            message_id = str(received.message["Message-ID"] or "").strip().strip("<>")
            if kind == reorder.KIND:
                sink.vendor += 1
            elif kind and message_id:
                sink.copies[message_id] += 1
                sink.kinds.setdefault(message_id, set()).add(kind)
                sink.recipients.setdefault(message_id, set()).update(received.rcpt_tos)
            else:
                sink.other.append(f"{received.message['Subject']!s} ({message_id or 'no id'})")
        return sink


def _emails(
    engine: Engine, smtp: SmtpServer, fates: dict[str, str], books: Books, killed: int
) -> None:
    notes = rows(
        engine,
        "SELECT n.id, n.kind, n.status, n.recipient, n.attempts, o.idempotency_key AS key"
        " FROM notifications n JOIN orders o ON o.id = n.order_id",
    )
    statuses = Counter(str(note.status) for note in notes)
    kinds: dict[str, set[str]] = {}
    for note in notes:
        kinds.setdefault(note.key, set()).add(note.kind)
    wrong = sorted(
        f"{key}: {sorted(kinds.get(key, ()))}"
        for key, what in fates.items()
        if what in _EMAILS and kinds.get(key, set()) != _EMAILS[what]
    )
    sink = _Sink.read(smtp)
    expected = {f"{note.id}@backroom": note for note in notes}
    doubled = sorted(
        f"{expected[mid].key} {expected[mid].kind} x{n}" if mid in expected else f"{mid} x{n}"
        for mid, n in sink.copies.items()
        if n > 1
    )
    missing = sorted(
        f"{note.key} {note.kind}" for mid, note in expected.items() if mid not in sink.copies
    )
    unknown = sorted(mid for mid in sink.copies if mid not in expected)
    mismatched = sorted(
        f"{note.key} {note.kind}: got {sorted(sink.kinds[mid])} to {sorted(sink.recipients[mid])}"
        for mid, note in expected.items()
        if mid in sink.copies
        and (sink.kinds[mid] != {note.kind} or sink.recipients[mid] != {note.recipient})
    )
    extra_copies = sum(n - 1 for n in sink.copies.values() if n > 1)
    books.count(
        f"emails: {len(notes)} notifications ("
        + ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
        + f"), attempts {sum(note.attempts for note in notes)}"
        f" (at most {max((note.attempts for note in notes), default=0)} for one); mail server holds"
        f" {sum(sink.copies.values())} customer messages for {len(sink.copies)} Message-IDs"
        f" ({len(doubled)} Message-IDs more than once, {extra_copies} extra copies),"
        f" {sink.vendor} vendor reorder emails, {len(sink.other)} others"
    )
    if doubled:
        books.count(f"emails received more than once: {_examples(doubled)}")
    not_sent = len(notes) - statuses.get("sent", 0)
    books.require(not_sent == 0, f"emails: {not_sent} notifications not sent: {dict(statuses)}")
    books.require(
        not wrong, f"emails: {len(wrong)} orders without their emails: {_examples(wrong)}"
    )
    in_the_window = [  # resent after a sender died between acceptance and mark
        mid
        for mid, n in sink.copies.items()
        if n == 2 and mid in expected and expected[mid].attempts >= 2
    ]
    explained = killed > 0 and len(in_the_window) == len(doubled) <= killed
    if doubled and explained:
        books.count(
            f"emails: {len(doubled)} resent after their sender was killed between the server's"
            f" acceptance and the mark ({killed} kills): the window the design leaves"
        )
    books.require(
        not doubled or explained,
        f"emails: {len(doubled)} emails received more than once ({extra_copies} extra"
        f" copies): {_examples(doubled)}",
    )
    books.require(not missing, f"emails: {len(missing)} never received: {_examples(missing)}")
    books.require(not unknown, f"emails: {len(unknown)} of no notification: {_examples(unknown)}")
    books.require(not mismatched, f"emails: {len(mismatched)} wrong: {_examples(mismatched)}")
    books.require(not sink.other, f"emails: {len(sink.other)} extra: {_examples(sink.other)}")


def _dead_letters(engine: Engine, books: Books) -> None:
    letters = rows(
        engine,
        "SELECT task, error_type, count(*) AS n, min(reason) AS reason FROM dead_letters"
        " GROUP BY 1, 2 ORDER BY 1, 2",
    )
    total = sum(letter.n for letter in letters)
    books.count(
        f"dead letters: {total}"
        + "".join(f"\n  {x.n} {x.task} {x.error_type}: {x.reason[:200]}" for x in letters)
    )
    books.require(total == 0, f"dead letters: {total} for transient faults")


def _resent(engine: Engine, books: Books) -> None:
    """Not an invariant: how much the sweep had to do (steps it sent again)."""
    resent = scalar(engine, "SELECT coalesce(sum(sends - 1), 0) FROM outbox")
    rows_resent = scalar(engine, "SELECT count(*) FROM outbox WHERE sends > 1")
    books.count(f"sweep: {resent} resends of {rows_resent} steps")


def read(engine: Engine, smtp: SmtpServer, shop: Shop, killed: int = 0) -> Books:
    """The books: what was counted and every invariant that does not hold; `killed`: how
    many times the test SIGKILLed a worker process (see the module, 4)."""
    books = Books()
    fates = _orders(engine, shop, books)
    _money(engine, fates, books)
    _stock(engine, shop, books)
    _emails(engine, smtp, fates, books, killed)
    _dead_letters(engine, books)
    _resent(engine, books)
    return books


def describe(engine: Engine, smtp: SmtpServer, shop: Shop) -> str:
    books = read(engine, smtp, shop)
    return "\n".join(books.lines + [f"PROBLEM {problem}" for problem in books.problems])


def check(
    engine: Engine,
    smtp: SmtpServer,
    shop: Shop,
    say: Callable[[str], None] = print,
    killed: int = 0,
) -> None:
    """Print the books, then fail listing every invariant that does not hold."""
    books = read(engine, smtp, shop, killed)
    say("\n".join(books.lines))
    if books.problems:
        raise AssertionError("invariants broken:\n" + "\n".join(books.problems))
    say("invariants hold")
