"""The simulated payment provider: a stand-in for a real one, with a ledger of its own.

The provider is an outside system, so its records live in a PostgreSQL schema of its own
(`payment_sim`), created here, never by the app's migrations. Every call is one short
transaction, idempotent by key: `INSERT ... ON CONFLICT` and `SELECT ... FOR UPDATE` make two
processes calling with the same key at the same moment see one payment and one capture.

Tokens: `tok_ok` approves, `tok_decline` declines, `tok_flaky` is unavailable twice per key
and then approves, `tok_slow` takes `slow_seconds` and then approves; any other is declined.
Each may carry a suffix of its own after an underscore (`tok_ok_4f9c2a`): a token that can be
told apart, which behaves as its kind does.

The ledger keeps a token's fingerprint (`domain.secrets.fingerprint`), never the token: it is
enough to refuse a key used again with another token.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from domain.ports import Authorization, Capture, PaymentDeclined, PaymentUnavailable, Refund
from domain.secrets import fingerprint
from domain.sql import Statement

SCHEMA = "payment_sim"
FLAKY_FAILURES = 2
KNOWN_TOKENS = frozenset({"tok_ok", "tok_decline", "tok_flaky", "tok_slow"})

_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.payments (
        key text PRIMARY KEY,
        reference text NOT NULL UNIQUE,
        token_fingerprint text NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (
            status IN ('pending', 'declined', 'authorized', 'captured', 'refunded')),
        authorize_attempts int NOT NULL DEFAULT 0,
        authorized_at timestamptz,
        captured_at timestamptz,
        refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount <= amount),
        refunded_at timestamptz
    )""",
    # A ledger made before it kept fingerprints: its tokens become fingerprints.
    f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = '{SCHEMA}'
                   AND table_name = 'payments' AND column_name = 'token') THEN
            ALTER TABLE {SCHEMA}.payments ADD COLUMN IF NOT EXISTS token_fingerprint text;
            UPDATE {SCHEMA}.payments
               SET token_fingerprint = left(encode(sha256(convert_to(token, 'UTF8')), 'hex'), 16);
            ALTER TABLE {SCHEMA}.payments ALTER COLUMN token_fingerprint SET NOT NULL,
                                          DROP COLUMN token;
        END IF;
    END $$""",
)
_INSTALLED = (
    f"SELECT to_regclass('{SCHEMA}.payments') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
    f" information_schema.columns WHERE table_schema = '{SCHEMA}' AND table_name = 'payments'"
    " AND column_name = 'token')"
)
_COLUMNS = (
    "key, reference, token_fingerprint, amount, currency, status, authorize_attempts,"
    " authorized_at, captured_at, refunded_amount, refunded_at"
)
# A first authorization is one statement: the row is created with the first attempt's outcome.
# A key seen before inserts nothing (no conflict target, so a concurrent insert of the same key
# is waited for and then skipped on either unique index) and goes the slow way: locked, checked,
# attempted again if pending.
_OPEN = Statement(
    f"INSERT INTO {SCHEMA}.payments (key, reference, token_fingerprint, amount, currency, status,"
    " authorize_attempts, authorized_at)"
    " VALUES (:key, :reference, :token_fingerprint, :amount, :currency, :status, 1,"
    " CASE WHEN :status = 'authorized' THEN now() END)"
    f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}"
)
_READ = Statement(f"SELECT {_COLUMNS} FROM {SCHEMA}.payments WHERE key = :key")
_LOCK = Statement(f"SELECT {_COLUMNS} FROM {SCHEMA}.payments WHERE key = :key FOR UPDATE")
_ATTEMPT = Statement(
    f"UPDATE {SCHEMA}.payments SET authorize_attempts = authorize_attempts + 1,"
    " status = :status,"
    " authorized_at = CASE WHEN :status = 'authorized' THEN now() END"
    f" WHERE key = :key RETURNING {_COLUMNS}"
)
# Captures the authorization it was given, and nothing else; no row back means "look closer".
_CAPTURE = Statement(
    f"UPDATE {SCHEMA}.payments SET status = 'captured', captured_at = now()"
    " WHERE key = :key AND status = 'authorized' AND reference = :reference"
    f" AND amount = :amount AND currency = :currency RETURNING {_COLUMNS}"
)
_REFUND = Statement(
    f"UPDATE {SCHEMA}.payments SET status = 'refunded', refunded_amount = :amount,"
    f" refunded_at = now() WHERE key = :key RETURNING {_COLUMNS}"
)
_CAPTURED = f"FROM {SCHEMA}.payments WHERE captured_at IS NOT NULL"


@dataclass(frozen=True)
class _Payment:
    """One row of the provider's ledger."""

    key: str
    reference: str
    token_fingerprint: str
    amount: int
    currency: str
    status: str
    authorize_attempts: int
    authorized_at: datetime | None
    captured_at: datetime | None
    refunded_amount: int
    refunded_at: datetime | None


class SimulatedGateway:
    """A `PaymentGateway` whose ledger is the `payment_sim` schema of `engine`'s database."""

    name = "simulated"

    def __init__(
        self,
        engine: Engine,
        *,
        slow_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._engine = engine.execution_options(isolation_level="READ COMMITTED")
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._slow_seconds = slow_seconds
        self._sleep = sleep
        self.install(engine)

    @classmethod
    def install(cls, engine: Engine) -> None:
        """Create the provider's schema and tables; safe to call from many processes at once."""
        with engine.begin() as conn:
            if conn.scalar(text(_INSTALLED)):
                return
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('payment_sim.install'))"))
            for statement in _DDL:
                conn.execute(text(statement))

    # --- the port ------------------------------------------------------------------------------

    def authorize(
        self, *, idempotency_key: str, amount: int, currency: str, token: str
    ) -> Authorization:
        kind = _kind(token)
        if kind is None:
            raise PaymentDeclined("unknown payment token")
        if kind == "tok_slow":
            self._sleep(self._slow_seconds)  # before any transaction: nothing held while slow
        print_ = fingerprint(token)
        values = {"key": idempotency_key, "amount": amount, "currency": currency}
        first = {
            **values,
            "token_fingerprint": print_,
            "reference": _reference(idempotency_key),
            "status": _outcome(kind, 1),
        }
        with self._autocommit.connect() as conn:  # a first sight is one statement
            payment = _row_or_none(conn, _OPEN, **first)
        if payment is None:  # seen before: locked, checked, attempted again if still pending
            with self._engine.begin() as conn:
                payment = _row(conn, _LOCK, key=idempotency_key)
                _check_same_request(payment, amount, currency, print_)
                if payment.status == "pending":
                    payment = _attempt(conn, payment, kind)
        return _authorization(payment)

    def capture(self, *, idempotency_key: str, authorization: Authorization) -> Capture:
        with self._autocommit.connect() as conn:  # each statement is its own transaction
            captured = _row_or_none(
                conn,
                _CAPTURE,
                key=idempotency_key,
                reference=authorization.reference,
                amount=authorization.amount,
                currency=authorization.currency,
            )
            # none: captured already (a retry), or not this authorization's to capture
            found = None if captured else _row_or_none(conn, _READ, key=idempotency_key)
            payment = captured or _check_capturable(found, authorization)
        assert payment.captured_at is not None
        return Capture(payment.reference, payment.amount, _utc(payment.captured_at))

    def refund(self, *, idempotency_key: str, amount: int) -> Refund:
        with self._engine.begin() as conn:
            payment = _check_refundable(_row_or_none(conn, _LOCK, key=idempotency_key), amount)
            if payment.status == "captured":
                payment = _row(conn, _REFUND, key=idempotency_key, amount=amount)
        assert payment.refunded_at is not None
        return Refund(_refund_reference(payment.key), amount, _utc(payment.refunded_at))

    # --- read helpers for tests and operators ---------------------------------------------------

    def captures(self, key: str | None = None) -> int:
        """How many payments were captured (refunded ones included), optionally for one key."""
        where = "" if key is None else " AND key = :key"
        with self._engine.connect() as conn:
            return int(conn.scalar(text(f"SELECT count(*) {_CAPTURED}{where}"), {"key": key}))

    def captured_total(self) -> int:
        """Cents ever captured, before refunds."""
        with self._engine.connect() as conn:
            return int(conn.scalar(text(f"SELECT coalesce(sum(amount), 0) {_CAPTURED}")))

    def ledger(self) -> list[dict[str, Any]]:
        """Every payment the provider knows, oldest authorization first."""
        query = text(f"SELECT {_COLUMNS} FROM {SCHEMA}.payments ORDER BY authorized_at, key")
        with self._engine.connect() as conn:
            return [row._asdict() for row in conn.execute(query)]


# --- one step each ---------------------------------------------------------------------------


def _row_or_none(conn: Connection, statement: Statement, **params: object) -> _Payment | None:
    row = statement.run(conn, params).one_or_none()
    return None if row is None else _Payment(**row._asdict())


def _row(conn: Connection, statement: Statement, **params: object) -> _Payment:
    return _Payment(**statement.run(conn, params).one()._asdict())


def _attempt(conn: Connection, payment: _Payment, kind: str) -> _Payment:
    attempts = payment.authorize_attempts + 1
    return _row(conn, _ATTEMPT, key=payment.key, status=_outcome(kind, attempts))


def _kind(token: str) -> str | None:
    """The known token `token` is, or one of them with a suffix of its own; else None."""
    for known in KNOWN_TOKENS:
        if token == known or token.startswith(f"{known}_"):
            return known
    return None


def _outcome(kind: str, attempt: int) -> str:
    if kind == "tok_decline":
        return "declined"
    if kind == "tok_flaky" and attempt <= FLAKY_FAILURES:
        return "pending"
    return "authorized"


def _authorization(payment: _Payment) -> Authorization:
    if payment.status == "declined":
        raise PaymentDeclined("card declined")
    if payment.status == "pending":
        raise PaymentUnavailable(
            f"payment provider unavailable (attempt {payment.authorize_attempts}), try again"
        )
    return Authorization(payment.reference, payment.amount, payment.currency)


def _check_same_request(
    payment: _Payment, amount: int, currency: str, token_fingerprint: str
) -> None:
    if payment.amount != amount or payment.currency != currency:
        raise PaymentDeclined("idempotency key reused with a different amount")
    if payment.token_fingerprint != token_fingerprint:
        raise PaymentDeclined("idempotency key reused with a different payment token")


def _check_capturable(payment: _Payment | None, authorization: Authorization) -> _Payment:
    if payment is None:
        raise PaymentDeclined("no authorization for this idempotency key")
    if payment.reference != authorization.reference:
        raise PaymentDeclined("authorization does not belong to this idempotency key")
    if payment.amount != authorization.amount or payment.currency != authorization.currency:
        raise PaymentDeclined("idempotency key reused with a different amount")
    if payment.status in ("pending", "declined"):
        raise PaymentDeclined(f"payment is {payment.status}, not authorized: cannot capture")
    return payment


def _check_refundable(payment: _Payment | None, amount: int) -> _Payment:
    if payment is None:
        raise PaymentDeclined("no payment for this idempotency key: nothing to refund")
    if payment.status == "refunded":
        if amount != payment.refunded_amount:
            raise PaymentDeclined(
                f"payment already refunded ({payment.refunded_amount} cents): one refund per key"
            )
        return payment
    if payment.status != "captured":
        raise PaymentDeclined(f"payment is {payment.status}, not captured: nothing to refund")
    if not 0 < amount <= payment.amount:
        raise PaymentDeclined(
            f"refund of {amount} cents is not within the captured {payment.amount} cents"
        )
    return payment


def _reference(key: str) -> str:
    return f"sim_ch_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _refund_reference(key: str) -> str:
    return f"sim_re_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
