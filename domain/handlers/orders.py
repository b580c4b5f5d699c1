"""The order pipeline, one handler per step, in the order an order meets them.

    orders.place -> inventory.reserve -> payments.capture -> orders.fulfil -> notifications.send

Each handler does its step in the unit of work it is given and answers with what comes next
(`flow.after`: the step the order's new state waits for, and the send of new emails). An out
of stock order is cancelled at the reservation and a declined payment at the capture; both then
ask only for the send of the email that says so.

The order's number is bound for the log lines (`domain.log_context`) where the step learns it:
the placing here, the send from the emails it claims, the other steps where the order is
loaded (`domain.services.state.load`).
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.orm import Session

from domain import log_context
from domain.contracts import OrderStep, PlaceOrder
from domain.handlers.flow import after, order_step, result_of
from domain.handlers.step import CallOut, Done, Ports, Work
from domain.ports import Capture, PaymentDeclined, Refund
from domain.services import fulfilment, notify, orders, payments, stock
from domain.steps import NOTIFY, RESERVE

log = logging.getLogger("backroom.orders")


def place(work: Work, cmd: PlaceOrder) -> Done:
    """`orders.place`: the order, its lines and its pending payment; then its reservation.
    The same idempotency key again answers with the order placed first, and asks for nothing."""
    placed = orders.place(work.session, cmd, work.now, work.ports.sealer)
    log_context.bind(order=placed.order_number)
    log.info("order=%s placed=%s key=%s", placed.order_number, placed.created, cmd.idempotency_key)
    reserve_it = (order_step(RESERVE, uuid.UUID(placed.order_id)),) if placed.created else ()
    return Done(placed.as_result(), reserve_it)


def reserve(work: Work, step: OrderStep) -> Done:
    """`inventory.reserve`: every line's stock held, then the capture; or, out of stock, the
    order cancelled and the customer told."""
    outcome = stock.reserve(work.session, step.order_id, work.now)
    return Done(result_of(outcome), after(outcome))


def _charge(ports: Ports, request: payments.ChargeRequest) -> Capture | PaymentDeclined:
    return payments.charge(ports.gateway, ports.sealer, request)


def _record_charge(work: Work, step: OrderStep, answer: Capture | PaymentDeclined) -> Done:
    """The provider's answer recorded: paid (then the fulfilment), or declined (stock released,
    order cancelled, customer told). A capture that lands after a cancel asks for its refund."""
    session, order_id, now = work.session, step.order_id, work.now
    if isinstance(answer, PaymentDeclined):
        outcome = payments.declined(session, order_id, str(answer), now)
    else:
        provider = work.ports.gateway.name
        outcome = payments.captured(session, order_id, answer, provider, now)
    return Done(result_of(outcome), after(outcome))


# `payments.capture`: what to charge is read, the provider charges the card outside any
# transaction (under the payment's idempotency key: a retry never charges twice), and its
# answer is recorded in the step's unit of work.
capture: CallOut[OrderStep, payments.ChargeRequest, Capture | PaymentDeclined] = CallOut(
    ask=lambda session, step: payments.request(session, step.order_id),
    call=_charge,
    record=_record_charge,
)


def fulfil(work: Work, step: OrderStep) -> Done:
    """`orders.fulfil`: one shipment, the stock off the shelf, the order shipped; then the send
    of the confirmation and the shipping email."""
    outcome = fulfilment.fulfil(work.session, step.order_id, work.now)
    return Done(result_of(outcome), after(outcome))


# `notifications.send`: the order's pending emails that are due, leased in one statement
# (a duplicate send finds them leased and does nothing); each handed to the mail server with no
# transaction open and marked sent the moment the server took it; then what the server did not
# take recorded in the step's unit of work: put off after an outage (the sweep sends it when
# due), failed when refused for good or given up on (the step ends with that error: a dead
# letter). Emails decided while this send ran get a send of their own.
def _claim(session: Session, step: OrderStep) -> list[notify.Claimed] | None:
    claimed = notify.claim(session, step.order_id)
    if claimed:
        log_context.bind(order=claimed[0].context["order_number"])
    return claimed or None


def _deliver(ports: Ports, claimed: list[notify.Claimed]) -> notify.Delivery:
    return notify.deliver(ports.factory, ports.mailer, claimed, ports.clock.now())


def _settle(work: Work, step: OrderStep, delivery: notify.Delivery) -> Done:
    error = notify.settle(work.session, delivery, work.ports.mail)
    more = delivery.unavailable is None and notify.waiting(work.session, step.order_id)
    return Done(
        notify.summary(delivery),
        (order_step(NOTIFY, step.order_id),) if more else (),
        error=error,
    )


send: CallOut[OrderStep, list[notify.Claimed], notify.Delivery] = CallOut(
    ask=_claim, call=_deliver, record=_settle
)


# `payments.refund`: a cancelled order's captured payment given back, the same way round.
def _refund(ports: Ports, request: payments.RefundRequest) -> Refund:
    return payments.refund(ports.gateway, request)


def _record_refund(work: Work, step: OrderStep, answer: Refund) -> Done:
    outcome = payments.refunded(work.session, step.order_id, answer, work.now)
    log.info("order_id=%s refund -> %s", step.order_id, result_of(outcome))
    return Done(result_of(outcome), after(outcome))


refund: CallOut[OrderStep, payments.RefundRequest, Refund] = CallOut(
    ask=lambda session, step: payments.refund_request(session, step.order_id),
    call=_refund,
    record=_record_refund,
)
