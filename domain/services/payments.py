"""Payments around the provider call, which happens outside any transaction.

`request` reads what to charge (nothing if the order is not awaiting payment), the payment
token still sealed; `charge` opens the token just before it authorizes and captures through
the gateway with the payment's idempotency key, and answers with the capture or the
provider's refusal; `captured` or `declined` records that answer under the order's row lock.
A capture that lands after the order was cancelled is refunded, never kept. Refunds go the
same way: `refund_request`, `refund`, `refunded`.

The payment's `details` keep the token's fingerprint for good and the token sealed only while
the payment is pending: any move of the payment (`state.move_payment`: captured, declined,
cancelled) drops the sealed token, as no later step needs it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from domain.models import Order, OrderStatus, Payment, PaymentStatus
from domain.notifications import Kind
from domain.ports import Capture, PaymentDeclined, PaymentGateway, Refund
from domain.secrets import SEALED_TOKEN, Sealer, SecretUnreadable
from domain.services import notify, state, stock
from domain.services.state import Outcome
from domain.sql import Statement

_REQUEST = Statement(
    "SELECT p.idempotency_key, p.amount, p.currency, p.status, p.details,"
    f" o.status AS order_status FROM {Payment.__tablename__} p"
    f" JOIN {Order.__tablename__} o ON o.id = p.order_id WHERE p.order_id = :id"
)
# What a capture may still change: a payment not yet settled (a cancel may have cancelled it).
_UNSETTLED = (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.CANCELLED)


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    amount: int
    currency: str
    sealed_token: str  # the payment token as the payment keeps it: opened by `charge` only


def request(session: Session, order_id: uuid.UUID) -> ChargeRequest | None:
    """What to charge for a confirmed order whose payment is still open; else None."""
    row = _REQUEST.run(session, {"id": order_id}).one_or_none()
    if row is None or row.order_status != OrderStatus.CONFIRMED:
        return None
    if row.status != PaymentStatus.PENDING:
        return None
    sealed = str(row.details.get(SEALED_TOKEN, ""))
    return ChargeRequest(row.idempotency_key, row.amount, row.currency, sealed)


def charge(
    gateway: PaymentGateway, sealer: Sealer, request: ChargeRequest
) -> Capture | PaymentDeclined:
    """Open the payment token, then authorize and capture under the payment's one idempotency
    key (outside any transaction): every retry lands on the same single charge. A refusal for
    good is the answer, not an error; a passing fault (`PaymentUnavailable`) is raised for a
    retry. A token that cannot be opened (`SecretUnreadable`: the worker lacks the key it was
    sealed with) stops the step before the provider is called."""
    if not request.sealed_token:
        raise SecretUnreadable(
            f"payment {request.idempotency_key} keeps no sealed payment token: it cannot be"
            " charged (was it placed before tokens were sealed?)"
        )
    token = sealer.open(request.sealed_token)
    try:
        authorization = gateway.authorize(
            idempotency_key=request.idempotency_key,
            amount=request.amount,
            currency=request.currency,
            token=token,
        )
        return gateway.capture(idempotency_key=request.idempotency_key, authorization=authorization)
    except PaymentDeclined as refusal:
        return refusal


def captured(
    session: Session, order_id: uuid.UUID, capture: Capture, provider: str, now: datetime
) -> Outcome | None:
    """Record the capture; move the order on (or leave it to a refund if it was cancelled)."""
    order = state.load(session, order_id)
    if order is None:
        return None
    state.move_payment(
        session,
        order_id,
        PaymentStatus.CAPTURED,
        _UNSETTLED,  # a late duplicate must not undo a refund
        captured_at=capture.captured_at,
        authorized_at=capture.captured_at,
        provider=provider,
        provider_reference=capture.reference,
    )
    outcome = Outcome.of(order)
    if order.status == OrderStatus.CONFIRMED:
        state.transition(
            session,
            order,
            OrderStatus.PROCESSING,
            now,
            "payment captured",
            payment_status=PaymentStatus.CAPTURED,
        )
        emailed = notify.prepare(session, order.id, order.customer_email, Kind.ORDER_CONFIRMED)
        return outcome.moved_to(OrderStatus.PROCESSING, PaymentStatus.CAPTURED, emails=emailed)
    if order.status == OrderStatus.CANCELLED and order.payment_status in _UNSETTLED:
        state.set_payment_status(session, order_id, PaymentStatus.CAPTURED)
        return outcome.moved_to(OrderStatus.CANCELLED, PaymentStatus.CAPTURED)
    return outcome


def declined(session: Session, order_id: uuid.UUID, reason: str, now: datetime) -> Outcome | None:
    """The provider said no: release the stock, cancel, tell the customer."""
    order = state.load(session, order_id)
    if order is None or order.status != OrderStatus.CONFIRMED:
        return None if order is None else Outcome.of(order)
    failed = PaymentStatus.FAILED
    state.move_payment(session, order_id, failed, _UNSETTLED, failed_at=now, failure_reason=reason)
    stock.release(session, order, "payment declined")
    note = f"payment declined: {reason}"
    state.transition(session, order, OrderStatus.CANCELLED, now, note, payment_status=failed)
    kind = Kind.PAYMENT_FAILED
    emailed = notify.prepare(session, order.id, order.customer_email, kind, reason=reason)
    return Outcome.of(order).moved_to(OrderStatus.CANCELLED, failed, emails=emailed)


@dataclass(frozen=True)
class RefundRequest:
    idempotency_key: str
    amount: int


def refund_request(session: Session, order_id: uuid.UUID) -> RefundRequest | None:
    """What to refund for an order whose payment was captured; else None."""
    row = _REQUEST.run(session, {"id": order_id}).one_or_none()
    if row is None or row.status != PaymentStatus.CAPTURED:
        return None
    return RefundRequest(row.idempotency_key, row.amount)


def refund(gateway: PaymentGateway, request: RefundRequest) -> Refund:
    """Give the money back under the payment's key (outside any transaction)."""
    return gateway.refund(idempotency_key=request.idempotency_key, amount=request.amount)


def refunded(
    session: Session, order_id: uuid.UUID, refund: Refund, now: datetime
) -> Outcome | None:
    """Record the refund; a cancelled order becomes refunded."""
    order = state.load(session, order_id)
    if order is None or order.payment_status == PaymentStatus.REFUNDED:
        return None if order is None else Outcome.of(order)
    refunded = PaymentStatus.REFUNDED
    state.move_payment(
        session,
        order_id,
        refunded,
        [PaymentStatus.CAPTURED],
        refunded_amount=refund.amount,
        refunded_at=refund.refunded_at,
    )
    if order.status == OrderStatus.CANCELLED:
        note = "payment refunded"
        state.transition(session, order, OrderStatus.REFUNDED, now, note, payment_status=refunded)
        return Outcome.of(order).moved_to(OrderStatus.REFUNDED, refunded)
    state.set_payment_status(session, order_id, refunded)  # nothing else waits on it
    return Outcome.of(order)
