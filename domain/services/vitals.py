"""What an operator needs to know about the pipeline's state, read from the database.

`read` takes one snapshot: orders per status, how old the oldest open order is, the outbox's
unconsumed steps, the open dead letters per task, and each scheduled entry's latest claimed
slot. The metrics endpoint and `backroom status` show the same snapshot. Every figure is one
short statement; ages are measured against the database's clock, the one that stamped them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from domain.models import (
    DeadLetter,
    DeadLetterStatus,
    Order,
    OrderStatus,
    OutboxMessage,
    ScheduledRun,
)
from domain.sql import Statement
from domain.validation import sql_literal

# An order not yet shipped, cancelled or refunded: it still waits on a step.
OPEN = (OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.PROCESSING)

_ORDERS = Statement(f"SELECT status, count(*) AS n FROM {Order.__tablename__} GROUP BY status")
_OLDEST_OPEN = Statement(
    "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
    f" FROM {Order.__tablename__} WHERE status IN"
    f" ({', '.join(sql_literal(status) for status in OPEN)})"
)
_OUTBOX = Statement(
    "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age,"
    f" now() AS now FROM {OutboxMessage.__tablename__} WHERE consumed_at IS NULL"
)
_DEAD_LETTERS = Statement(
    f"SELECT task, count(*) AS n FROM {DeadLetter.__tablename__}"
    f" WHERE status = {sql_literal(DeadLetterStatus.OPEN)} GROUP BY task"
)
# Each entry's latest slot the beat claimed (runs enqueued by hand do not count), and when a
# worker started it.
_LATEST_SLOTS = Statement(
    f"""
    SELECT DISTINCT ON (entry) entry, slot, started_at
    FROM {ScheduledRun.__tablename__} WHERE NOT by_hand ORDER BY entry, slot DESC
    """
)


@dataclass(frozen=True)
class SlotSeen:
    """An entry's latest claimed slot, when its run started (None: not yet)."""

    slot: datetime
    started_at: datetime | None


@dataclass(frozen=True)
class Vitals:
    orders: dict[str, int]  # every status, 0 where there is none
    oldest_open_order_age: float  # seconds; 0 when no order is open
    outbox_unconsumed: int
    outbox_oldest_age: float  # seconds; 0 when the outbox is empty
    dead_letters_open: dict[str, int]  # per task; only tasks that have some
    latest_slots: dict[str, SlotSeen]  # per entry the beat has claimed a slot of
    now: datetime  # the database's clock when the snapshot was read


def read(session: Session | Connection) -> Vitals:
    """One snapshot of the pipeline's state."""
    counts = {status.value: 0 for status in OrderStatus}
    counts.update({row.status: int(row.n) for row in _ORDERS.run(session)})
    outbox = _OUTBOX.run(session)[0]
    return Vitals(
        orders=counts,
        oldest_open_order_age=float(_OLDEST_OPEN.run(session)[0].age),
        outbox_unconsumed=int(outbox.n),
        outbox_oldest_age=float(outbox.age),
        dead_letters_open={row.task: int(row.n) for row in _DEAD_LETTERS.run(session)},
        latest_slots={
            row.entry: SlotSeen(row.slot, row.started_at) for row in _LATEST_SLOTS.run(session)
        },
        now=outbox.now,
    )
