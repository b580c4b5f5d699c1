"""Payment capture around the provider call, which happens outside any transaction.

`request` reads what to charge (nothing if the order is not awaiting payment); the caller
authorizes and captures through the gateway with the payment's idempotency key; `captured`
or `declined` records the outcome under the order's row lock. A capture that lands after the
order was cancelled is refunded, never kept.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from domain import steps, tables, uow
from domain.models import OrderStatus, PaymentStatus
from domain.notifications import Kind
from domain.ports import Capture, PaymentDeclined, PaymentGateway, Refund
from domain.services import notify, state, stock
from domain.sql import Statement
from domain.uow import Step, stage

_P = tables.payments
_REQUEST = Statement(
    "SELECT p.idempotency_key, p.amount, p.currency, p.status, p.details, "
    "o.status AS order_status FROM payments p JOIN orders o ON o.id = p.order_id "
    "WHERE p.order_id = :id"
)
_O = tables.orders


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    amount: int
    currency: str
    token: str


def request(session: Session, order_id: uuid.UUID) -> ChargeRequest | None:
    """What to charge for a confirmed order whose payment is still open; else None."""
    row = _REQUEST.run(session, {"id": order_id}).one_or_none()
    if row is None or row.order_status != OrderStatus.CONFIRMED:
        return None
    if row.status not in (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED):
        return None
    token = str(row.details.get("token", ""))
    return ChargeRequest(row.idempotency_key, row.amount, row.currency, token)


def charge(gateway: PaymentGateway, request: ChargeRequest) -> Capture:
    """Authorize, then capture, under the payment's one idempotency key (outside any
    transaction): every retry lands on the same single charge."""
    authorization = gateway.authorize(
        idempotency_key=request.idempotency_key,
        amount=request.amount,
        currency=request.currency,
        token=request.token,
    )
    return gateway.capture(idempotency_key=request.idempotency_key, authorization=authorization)


def _set_payment(session: Session, order_id: uuid.UUID, **values: object) -> None:
    _payment_update(tuple(values)).run(session, {**values, "order_id": order_id})


@functools.cache
def _payment_update(columns: tuple[str, ...]) -> Statement:
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    return Statement(f"UPDATE payments SET {assignments} WHERE order_id = :order_id")


def captured(
    session: Session, order_id: uuid.UUID, capture: Capture, provider: str, now: datetime
) -> str:
    """Record the capture; move the order on (or refund it if it was cancelled meanwhile)."""
    order = state.load(session, order_id)
    assert order is not None
    settled = (PaymentStatus.CAPTURED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED)
    if order.payment_status not in settled:  # a late duplicate must not undo a refund
        _set_payment(
            session,
            order_id,
            status=PaymentStatus.CAPTURED,
            captured_at=capture.captured_at,
            authorized_at=capture.captured_at,
            provider=provider,
            provider_reference=capture.reference,
        )
    if order.status == OrderStatus.CONFIRMED:
        state.transition(
            session,
            order,
            OrderStatus.PROCESSING,
            now,
            "payment captured",
            payment_status=PaymentStatus.CAPTURED.value,
        )
        # sent by the fulfilment step's send, just before the shipping email
        notify.prepare(session, order.id, order.customer_email, Kind.ORDER_CONFIRMED, send=False)
        stage(session, steps.FULFIL, {"order_id": str(order.id)}, order.id)
        return OrderStatus.PROCESSING.value
    if order.status == OrderStatus.CANCELLED and order.payment_status != PaymentStatus.REFUNDED:
        session.execute(
            update(_O).where(_O.c.id == order_id).values(payment_status=PaymentStatus.CAPTURED)
        )
        stage(session, steps.REFUND, {"order_id": str(order.id)}, order.id)
    return order.status.value


def declined(session: Session, order_id: uuid.UUID, reason: str, now: datetime) -> str:
    """The provider said no: release the stock, cancel, tell the customer."""
    order = state.load(session, order_id)
    assert order is not None
    if order.status != OrderStatus.CONFIRMED:
        return order.status.value
    _set_payment(
        session, order_id, status=PaymentStatus.FAILED, failed_at=now, failure_reason=reason
    )
    stock.release(session, order, "payment declined")
    state.transition(
        session,
        order,
        OrderStatus.CANCELLED,
        now,
        f"payment declined: {reason}",
        payment_status=PaymentStatus.FAILED.value,
    )
    notify.prepare(session, order.id, order.customer_email, Kind.PAYMENT_FAILED, reason=reason)
    return OrderStatus.CANCELLED.value


def refund_request(session: Session, order_id: uuid.UUID) -> tuple[str, int] | None:
    """(payment key, amount) for a cancelled order whose payment was captured; else None."""
    row = session.execute(
        select(_P.c.idempotency_key, _P.c.amount, _P.c.status).where(_P.c.order_id == order_id)
    ).one_or_none()
    if row is None or row.status != PaymentStatus.CAPTURED:
        return None
    return row.idempotency_key, row.amount


def refunded(session: Session, order_id: uuid.UUID, refund: Refund, now: datetime) -> str:
    order = state.load(session, order_id)
    assert order is not None
    if order.payment_status == PaymentStatus.REFUNDED:
        return order.status.value
    _set_payment(
        session,
        order_id,
        status=PaymentStatus.REFUNDED,
        refunded_amount=refund.amount,
        refunded_at=refund.refunded_at,
    )
    if order.status == OrderStatus.CANCELLED:
        state.transition(
            session,
            order,
            OrderStatus.REFUNDED,
            now,
            "payment refunded",
            payment_status=PaymentStatus.REFUNDED.value,
        )
        return OrderStatus.REFUNDED.value
    session.execute(
        update(_O).where(_O.c.id == order_id).values(payment_status=PaymentStatus.REFUNDED)
    )
    return order.status.value


# --- the two payment steps, whole: what `payments.capture` and `payments.refund` run ----------

Clock = Callable[[], datetime]


def capture_step(
    factory: sessionmaker[Session],
    gateway: PaymentGateway,
    order_id: uuid.UUID,
    clock: Clock,
    *,
    consumed: int | None = None,
) -> tuple[str, list[Step]]:
    """Read what to charge, charge it outside any transaction, record the outcome (marking the
    message's outbox row consumed); the result and the next steps to publish."""
    wanted = uow.read(factory, lambda s: request(s, order_id))
    if wanted is None:
        uow.consume(factory, consumed)
        return "skipped", []
    try:
        done = charge(gateway, wanted)
    except PaymentDeclined as refusal:
        reason = str(refusal)
        return uow.run(factory, lambda s: declined(s, order_id, reason, clock()), consumed=consumed)
    return uow.run(
        factory,
        lambda s: captured(s, order_id, done, gateway.name, clock()),
        consumed=consumed,
    )


def refund_step(
    factory: sessionmaker[Session],
    gateway: PaymentGateway,
    order_id: uuid.UUID,
    clock: Clock,
    *,
    consumed: int | None = None,
) -> str:
    """Refund a cancelled order's captured payment under the payment's key; record it."""
    wanted = uow.read(factory, lambda s: refund_request(s, order_id))
    if wanted is None:
        uow.consume(factory, consumed)
        return "skipped"
    key, amount = wanted
    done = gateway.refund(idempotency_key=key, amount=amount)
    result, _ = uow.run(factory, lambda s: refunded(s, order_id, done, clock()), consumed=consumed)
    return result
