"""Names of the pipeline's tasks, as the domain stages them in the outbox.

`orders.*`, `inventory.restock` are public (see `domain.contracts`); the rest are internal
steps of the saga, stable too because messages in flight carry them across deploys.
"""

from __future__ import annotations

PLACE = "orders.place"
CANCEL = "orders.cancel"
STATUS = "orders.status"
RESTOCK = "inventory.restock"

RESERVE = "inventory.reserve"
CAPTURE = "payments.capture"
REFUND = "payments.refund"
FULFIL = "orders.fulfil"
NOTIFY = "notifications.send"
SWEEP = "orders.sweep"

# Scheduled by the beat (`scheduler/`): their payload is the slot they run for.
EXPIRE_RESERVATIONS = "inventory.expire_reservations"
CHECK_REORDER = "inventory.check_reorder"
ROLLUP = "analytics.rollup"
ROLLUP_PREVIOUS_DAY = "analytics.rollup_previous_day"
NIGHTLY_REPORT = "reports.nightly"
