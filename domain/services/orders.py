"""Orders: place one (idempotently), move it along with history, cancel it, report on it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.contracts import CancelOrder, ContractViolation, PlaceOrder, fingerprint
from domain.errors import Refused
from domain.models import (
    OrderItem,
    OrderStatus,
    OrderStatusHistory,
    Payment,
    PaymentStatus,
)
from domain.models.orders import order_number_seq
from domain.notifications import Kind
from domain.secrets import Sealer, payment_details
from domain.services import notify, state, stock
from domain.services.catalog import PricedLine, price_lines
from domain.services.customers import customer_for
from domain.services.state import ORDERS, Outcome
from domain.sql import Statement
from domain.validation import sql_literal

ORDER_NUMBERS = order_number_seq.name
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SPACE = 36**6
_SPREAD = 1_000_003  # prime, so n -> n * _SPREAD mod 36^6 is one-to-one
FINAL = frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.REFUNDED})


class OrderNotFound(Refused):
    """No order has that number."""


class NotCancellable(Refused):
    """A valid request the order's state cannot grant (it has shipped)."""


@dataclass(frozen=True)
class Placed:
    order_id: str
    order_number: str
    status: str
    created: bool

    def as_result(self) -> dict[str, str]:
        """What `orders.place` answers (contract: `PlaceOrderResult`)."""
        return {"order_id": self.order_id, "order_number": self.order_number, "status": self.status}


def _format_number(n: int, now: datetime) -> str:
    """`ORD-YYYYMMDD-XXXXXX` from sequence number `n`: unique, not guessable in order."""
    code, value = "", (n * _SPREAD) % _SPACE
    for _ in range(6):
        value, digit = divmod(value, 36)
        code = _ALPHABET[digit] + code
    return f"ORD-{now:%Y%m%d}-{code}"


# The order with this key, if any, and the next order number (a repeat wastes one; numbers
# need to be unique, not gapless): one round trip before the work.
_LOOKUP = Statement(
    f"SELECT nextval({sql_literal(ORDER_NUMBERS)}) AS n, o.id, o.order_number, o.status,"
    f" o.request_fingerprint FROM (SELECT 1) AS one"
    f" LEFT JOIN {ORDERS} o ON o.idempotency_key = :key"
)
_BY_KEY = Statement(
    f"SELECT id, order_number, status, request_fingerprint FROM {ORDERS}"
    " WHERE idempotency_key = :key"
)


class KeyReused(ContractViolation):
    """An idempotency key already names another request: its order is left as it is."""


def place(session: Session, cmd: PlaceOrder, now: datetime, sealer: Sealer) -> Placed:
    """Create the order, its lines and its pending payment; the order already placed under
    this idempotency key, if any, when it was placed for the same request (then nothing is
    written). The same key with another request is refused (`KeyReused`). The payment keeps
    its token sealed by `sealer`, with its fingerprint, never in clear."""
    asked = fingerprint(cmd)
    found = _LOOKUP.run(session, {"key": cmd.idempotency_key}).one()
    if found.id is not None:
        return _placed_before(cmd, found, asked)
    lines = price_lines(session, cmd.lines, cmd.currency)
    customer_id = customer_for(session, cmd.customer_email, cmd.customer_name)
    number = _format_number(found.n, now)
    details = payment_details(cmd.payment_token, sealer)
    order_id = _insert_order(session, cmd, customer_id, number, lines, asked, details)
    if order_id is None:  # a concurrent duplicate won the race on the idempotency key
        return _placed_before(cmd, _BY_KEY.run(session, {"key": cmd.idempotency_key}).one(), asked)
    return Placed(str(order_id), number, OrderStatus.PENDING.value, created=True)


def _placed_before(cmd: PlaceOrder, row: Any, asked: str) -> Placed:
    """The order placed before under `cmd`'s key, if it was for the same request (an order
    placed before fingerprints were kept is taken as the same)."""
    if row.request_fingerprint not in (None, asked):
        message = (
            f"{cmd.idempotency_key!r} was already used for another request (order"
            f" {row.order_number}); that order is unchanged. Use a new key for a new order, or"
            " send the first request again, unchanged, to get its order"
        )
        raise KeyReused("idempotency_key", message)
    return Placed(str(row.id), row.order_number, row.status, False)


SHIPPING_METHOD = "standard"
PROVIDER_NOT_CHOSEN = "pending"  # payments.provider until the capture names the provider
_PENDING = sql_literal(OrderStatus.PENDING)
_INSERT = Statement(
    f"""
    WITH o AS (
        INSERT INTO {ORDERS} (id, order_number, idempotency_key, request_fingerprint,
                            customer_id, customer_email, subtotal, total_amount, currency,
                            billing_address, shipping_address, shipping_method)
        VALUES (:id, :number, :key, :fingerprint, :customer_id, :email, :subtotal, :subtotal,
                :currency, CAST(:address AS jsonb), CAST(:address AS jsonb),
                {sql_literal(SHIPPING_METHOD)})
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
    ), items AS (
        INSERT INTO {OrderItem.__tablename__} (id, order_id, product_id, variant_id,
            product_name, product_sku, quantity, unit_price, total_price, product_attributes,
            variant_attributes)
        SELECT gen_random_uuid(), o.id, i.product_id, i.variant_id, i.product_name,
               i.product_sku, i.quantity, i.unit_price, i.total_price, i.product_attributes,
               i.variant_attributes
        FROM o, jsonb_to_recordset(CAST(:items AS jsonb)) AS i(
            product_id uuid, variant_id uuid, product_name text, product_sku text,
            quantity int, unit_price int, total_price int, product_attributes jsonb,
            variant_attributes jsonb)
    ), history AS (
        INSERT INTO {OrderStatusHistory.__tablename__} (order_id, new_status, notes)
        SELECT id, {_PENDING}, 'placed' FROM o
    ), payment AS (
        INSERT INTO {Payment.__tablename__} (id, order_id, idempotency_key, amount, currency,
                                            provider, status, details)
        SELECT gen_random_uuid(), id, 'order-' || id, :subtotal, :currency,
               {sql_literal(PROVIDER_NOT_CHOSEN)}, {sql_literal(PaymentStatus.PENDING)},
               CAST(:details AS jsonb)
        FROM o
    )
    SELECT id FROM o
    """
)


def _insert_order(
    session: Session,
    cmd: PlaceOrder,
    customer_id: uuid.UUID,
    number: str,
    lines: list[PricedLine],
    asked: str,
    details: dict[str, str],
) -> uuid.UUID | None:
    """The order, its lines, its first history row and its pending payment (with `details`:
    what it keeps of its token): one statement.

    None when a concurrent duplicate took the idempotency key first (then nothing is written).
    """
    items = [
        {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in line.as_row().items()}
        for line in lines
    ]
    params = {
        "id": uuid.uuid4(),
        "number": number,
        "key": cmd.idempotency_key,
        "fingerprint": asked,
        "customer_id": customer_id,
        "email": cmd.customer_email,
        "subtotal": sum(line.total_price for line in lines),
        "currency": cmd.currency,
        "address": json.dumps(cmd.shipping_address.model_dump(exclude_none=True)),
        "items": json.dumps(items),
        "details": json.dumps(details),
    }
    inserted: uuid.UUID | None = _INSERT.run(session, params).scalar_one_or_none()
    return inserted


_STATUS = Statement(
    f"""
    SELECT o.order_number, o.status, o.payment_status, o.shipping_status, o.total_amount,
           o.currency, o.tracking_number, h.new_status, h.created_at, h.notes
    FROM {ORDERS} o
    JOIN {OrderStatusHistory.__tablename__} h ON h.order_id = o.id
    WHERE o.order_number = :number
    ORDER BY h.id
    """
)


def status(session: Session, number: str) -> dict[str, Any]:
    """Where an order stands, for `orders.status` and `backroom order`."""
    rows = _STATUS.run(session, {"number": number})
    if not rows:
        raise OrderNotFound(f"no order {number}")
    order = rows[0]
    return {
        "order_number": order.order_number,
        "status": order.status,
        "payment_status": order.payment_status,
        "shipping_status": order.shipping_status,
        "total_amount": order.total_amount,
        "currency": order.currency,
        "tracking_number": order.tracking_number,
        "history": [
            {"status": h.new_status, "at": h.created_at.isoformat(), "note": h.notes} for h in rows
        ],
    }


_ID_OF = Statement(f"SELECT id FROM {ORDERS} WHERE order_number = :number")
_OPEN = (OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.PROCESSING)


@dataclass(frozen=True)
class Cancellation:
    """Why an open order is cancelled: the stock ledger's reason for the units given back, the
    status history note, and the customer email's sentence (`... was cancelled because ...`)."""

    released: str
    note: str
    reason: str


def cancel(session: Session, cmd: CancelOrder, now: datetime) -> Outcome:
    """Cancel an order that has not shipped, for the customer's reason (`cancel_open`); one
    cancelled already is left as it is. `OrderNotFound`, or `NotCancellable` once shipped."""
    order_id = _ID_OF.run(session, {"number": cmd.order_number}).scalar()
    order = None if order_id is None else state.load(session, order_id)
    if order is None:
        raise OrderNotFound(f"no order {cmd.order_number}")
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        return Outcome.of(order)
    if order.status not in _OPEN:
        raise NotCancellable(f"order {order.order_number} is {order.status.value}: too late")
    why = Cancellation("order cancelled", f"cancelled: {cmd.reason}", cmd.reason)
    return cancel_open(session, order, why, now)


def cancel_open(
    session: Session, order: state.OrderState, why: Cancellation, now: datetime
) -> Outcome:
    """Cancel an open order loaded (and locked) by `state.load`: its stock goes back if it was
    reserved, a payment not taken is cancelled (a captured one waits for its refund), the
    history row gets `why.note`, and the customer's cancellation email is recorded."""
    if order.status != OrderStatus.PENDING:
        stock.release(session, order, why.released)
    payment = order.payment_status
    if payment != PaymentStatus.CAPTURED:
        payment = PaymentStatus.CANCELLED
        state.move_payment(session, order.id, payment, [PaymentStatus.PENDING])
    state.transition(session, order, OrderStatus.CANCELLED, now, why.note, payment_status=payment)
    kind, reason = Kind.ORDER_CANCELLED, why.reason
    emailed = notify.prepare(session, order.id, order.customer_email, kind, reason=reason)
    return Outcome.of(order).moved_to(OrderStatus.CANCELLED, payment, emails=emailed)
