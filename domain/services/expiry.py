"""Reservations that were never paid: an order still pending or confirmed (stock held, payment
not taken) a hold's length after it was placed is cancelled, as a customer's cancel would.

What is due is read from the scheduled slot, never from the clock: an order placed at or
before `slot - hold` is overdue. The overdue orders are locked in one statement with SKIP
LOCKED, oldest first and at most `LIMIT` per run: an order another step is working on right
now (its capture being recorded, say) is left to the next run, which sees it as it is then.
The next minute's run takes what one run left over.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain import log_context
from domain.models import OrderStatus
from domain.services import orders, state
from domain.services.state import ORDERS, Outcome
from domain.sql import Statement
from domain.validation import sql_literal

log = logging.getLogger("backroom.orders")

LIMIT = 500  # orders expired per run at the most
_UNPAID = ", ".join(sql_literal(s) for s in (OrderStatus.PENDING, OrderStatus.CONFIRMED))
_OVERDUE = Statement(
    f"""
    SELECT id FROM {ORDERS}
    WHERE status IN ({_UNPAID}) AND created_at <= :due
    ORDER BY created_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)


def overdue(session: Session, due: datetime, limit: int = LIMIT) -> list[uuid.UUID]:
    """Unpaid orders placed at or before `due`, oldest first, locked for this transaction;
    those another transaction holds are passed over."""
    return [row.id for row in _OVERDUE.run(session, {"due": due, "limit": limit})]


def expire(session: Session, slot: datetime, hold: timedelta, now: datetime) -> list[Outcome]:
    """Cancel the orders still unpaid `hold` after they were placed, as of `slot`: their stock
    released, their payment cancelled, the customer told; where each order then stands."""
    why = _why(hold)
    outcomes = []
    for order_id in overdue(session, slot - hold):
        with log_context.scope():  # each order's lines name it; the job's own lines none
            order = state.load(session, order_id)
            if order is not None:
                outcomes.append(orders.cancel_open(session, order, why, now))
                log.info("order=%s %s", order.order_number, why.note)
    return outcomes


def _why(hold: timedelta) -> orders.Cancellation:
    span = _span(hold)
    note = f"reservation expired: unpaid after {span}"
    return orders.Cancellation("reservation expired", note, f"it was not paid within {span}")


def _span(hold: timedelta) -> str:
    """`15 min` for a hold of whole minutes, else `90 s`."""
    seconds = int(hold.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
