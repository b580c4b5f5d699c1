"""Payment capture around the provider call, which happens outside any transaction.

`request` reads what to charge (nothing if the order is not awaiting payment); the caller
authorizes and captures through the gateway with the payment's idempotency key; `captured`
or `declined` records the outcome under the order's row lock. A capture that lands after the
order was cancelled is refunded, never kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import steps
from domain.models import Order, OrderStatus, Payment, PaymentStatus
from domain.ports import Capture, Refund
from domain.services import notify, orders, stock
from domain.uow import stage


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    amount: int
    currency: str
    token: str


def request(session: Session, order_id: uuid.UUID) -> ChargeRequest | None:
    """What to charge for a confirmed order whose payment is still open; else None."""
    row = session.execute(
        select(Payment, Order.status)
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.order_id == order_id)
    ).one_or_none()
    if row is None or row.status != OrderStatus.CONFIRMED:
        return None
    payment: Payment = row.Payment
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED):
        return None
    token = str(payment.details.get("token", ""))
    return ChargeRequest(payment.idempotency_key, payment.amount, payment.currency, token)


def captured(
    session: Session, order_id: uuid.UUID, capture: Capture, provider: str, now: datetime
) -> str:
    """Record the capture; move the order on (or refund it if it was cancelled meanwhile)."""
    order = orders.locked(session, order_id)
    assert order is not None
    assert order.payment is not None
    payment = order.payment
    if payment.status != PaymentStatus.CAPTURED:
        payment.status, payment.captured_at = PaymentStatus.CAPTURED, capture.captured_at
        payment.authorized_at = payment.authorized_at or capture.captured_at
        payment.provider, payment.provider_reference = provider, capture.reference
        order.payment_status = PaymentStatus.CAPTURED
    if order.status == OrderStatus.CONFIRMED:
        orders.move(session, order, OrderStatus.PROCESSING, now, "payment captured")
        notify.prepare(session, order, notify.Kind.ORDER_CONFIRMED)
        stage(session, steps.FULFIL, {"order_id": str(order.id)}, order.id)
    elif order.status == OrderStatus.CANCELLED:
        stage(session, steps.REFUND, {"order_id": str(order.id)}, order.id)
    return order.status.value


def declined(session: Session, order_id: uuid.UUID, reason: str, now: datetime) -> str:
    """The provider said no: release the stock, cancel, tell the customer."""
    order = orders.locked(session, order_id)
    assert order is not None
    assert order.payment is not None
    if order.status != OrderStatus.CONFIRMED:
        return order.status.value
    order.payment.status, order.payment.failed_at = PaymentStatus.FAILED, now
    order.payment.failure_reason = reason
    order.payment_status = PaymentStatus.FAILED
    stock.release(session, order, "payment declined")
    orders.move(session, order, OrderStatus.CANCELLED, now, f"payment declined: {reason}")
    notify.prepare(session, order, notify.Kind.PAYMENT_FAILED, reason=reason)
    return order.status.value


def refund_request(session: Session, order_id: uuid.UUID) -> tuple[str, int] | None:
    """(refund key, amount) for a cancelled order whose payment was captured; else None."""
    payment = session.scalars(select(Payment).where(Payment.order_id == order_id)).one_or_none()
    if payment is None or payment.status != PaymentStatus.CAPTURED:
        return None
    return payment.idempotency_key, payment.amount


def refunded(session: Session, order_id: uuid.UUID, refund: Refund, now: datetime) -> str:
    order = orders.locked(session, order_id)
    assert order is not None
    assert order.payment is not None
    if order.payment.status == PaymentStatus.CAPTURED:
        order.payment.status = PaymentStatus.REFUNDED
        order.payment.refunded_amount, order.payment.refunded_at = refund.amount, refund.refunded_at
        order.payment_status = PaymentStatus.REFUNDED
        if order.status == OrderStatus.CANCELLED:
            orders.move(session, order, OrderStatus.REFUNDED, now, "payment refunded")
    return order.status.value
