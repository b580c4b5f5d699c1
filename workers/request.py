"""The worker's request: acknowledges a message only over the connection it came in on, and
never shows a payment token.

A task that is still running when the broker connection drops (Redis crash, network cut,
RabbitMQ restart) ends after the worker has closed that connection and opened a new one.
Celery then acknowledges the old delivery on the dead channel; kombu's Redis transport answers
with an `AttributeError` (its closed channel has no connection parameters left), which is not
one of the connection errors Celery tolerates there, and the worker's main loop dies: the
worker stops consuming while its process lingers (seen in CI with a slow capture in flight
during a Redis crash).

A delivery whose channel is gone cannot be acknowledged anyway: the broker gives the message
out again (RabbitMQ requeues it when the channel closes; kombu's Redis transport restores
unacknowledged messages when it closes the channel, or after the visibility timeout), and the
step's own idempotency turns the repeat into a no-op. So the acknowledgement is skipped with a
warning instead of crashing the worker.

The check runs when the acknowledgement is carried out, not when the task asks for it: the
worker defers acks to its event loop, and the connection may die in between. Neither Celery
nor kombu has a hook there, so `workers.compat.guard_settlement` patches the message's own
`ack`/`reject` (see there for the versions it was checked on).

How a task's arguments are shown (the "Received task" record, the task-received event Flower
shows, `celery inspect active|reserved`) is what the sender put in `argsrepr`/`kwargsrepr`;
when the arguments hold a payment token, the request shows them itself with it redacted
(`domain.secrets.redact_tokens`), whatever the sender put there.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.utils.saferepr import saferepr
from celery.worker.request import Request

from domain.secrets import clear_tokens, redact_tokens
from workers.compat import guard_settlement

log = logging.getLogger("backroom.worker")
REPR_SIZE = 1024  # Celery's own limit on argsrepr and kwargsrepr


def redacted_repr(arguments: Any) -> str:
    """A repr of `arguments` with their payment tokens redacted, at Celery's size limit: what
    `argsrepr`/`kwargsrepr` should hold."""
    return str(saferepr(redact_tokens(arguments), REPR_SIZE))


def shown(arguments: Any, sent: str) -> str:
    """How `arguments` are shown: as the sender showed them (`sent`), unless they hold a
    payment token; then a repr of them with it redacted."""
    return redacted_repr(arguments) if clear_tokens(arguments) else sent


def channel_gone(channel: Any) -> bool:
    """True when the channel a message came in on can no longer carry its acknowledgement."""
    if channel is None:
        return False  # kombu has its own clear error for a message with no channel
    if getattr(channel, "closed", False) or getattr(channel, "is_open", True) is False:
        return True
    transport = getattr(channel, "connection", None)  # a virtual transport (Redis)
    return transport is not None and hasattr(transport, "client") and transport.client is None


def _settle_only_if_live(message: Any, name: str) -> None:
    def live() -> bool:
        if not channel_gone(message.channel):
            return True
        log.warning(
            "%s of delivery %s skipped: the broker connection it came in on is closed;"
            " the broker delivers the message again and the task's idempotency absorbs it",
            name,
            message.delivery_tag,
        )
        return False

    guard_settlement(message, name, live)


class BackroomRequest(Request):  # type: ignore[misc]
    """Celery's request, with acknowledgements that tolerate a connection that is gone, and
    arguments shown without payment tokens."""

    @property
    def argsrepr(self) -> str:
        return shown(self.args, str(super().argsrepr))

    @property
    def kwargsrepr(self) -> str:
        return shown(self.kwargs, str(super().kwargsrepr))

    def info(self, safe: bool = False) -> dict[str, Any]:
        """What `celery inspect active|reserved` (and Flower's worker page) get: the arguments
        as shown, never the arguments themselves, whatever `safe` says."""
        info: dict[str, Any] = super().info(safe=True)
        return info | {"args": self.argsrepr, "kwargs": self.kwargsrepr}

    def acknowledge(self) -> None:
        _settle_only_if_live(self.message, "ack")
        super().acknowledge()

    def reject(self, requeue: bool = False) -> None:
        _settle_only_if_live(self.message, "reject")
        super().reject(requeue=requeue)
