"""A small client for Backroom's public tasks: needs only Celery, imports no worker code.

    from backroom_client import BackroomClient
    client = BackroomClient("redis://localhost:6379/0", result_backend="redis://localhost:6379/0")
    result = client.place_order(idempotency_key="cart-8812", customer_email="ada@example.com", ...)
    result.get(timeout=10)  # {"order_id": ..., "order_number": "ORD-...", "status": "pending"}

Every public task is read from the queue `orders` (contract v1, see docs/contract-v1.json).

A message also carries how its arguments are shown (`argsrepr`, `kwargsrepr`: the worker's
log, its events, Flower). The client sends them with every payment token redacted to its type
prefix and fingerprint, `'payment_token': 'tok_…(fingerprint 1a2b3c4d)'` (the first 8 hex
digits of the token's sha256), so none of those shows a token; the arguments themselves carry
it as they must.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from celery.utils.saferepr import saferepr

QUEUE = "orders"
__all__ = ["QUEUE", "BackroomClient", "redacted"]

TOKEN_KEYS = frozenset({"payment_token", "token"})
REPR_SIZE = 1024  # Celery's own limit on argsrepr and kwargsrepr
_TYPE_PREFIX = re.compile(r"^[A-Za-z]{2,8}_")


def redacted(payload: Any) -> Any:
    """`payload` with every token (a string under `payment_token` or `token`, at any depth)
    shown as its type prefix and fingerprint: `tok_…(fingerprint 1a2b3c4d)`."""
    if isinstance(payload, dict):
        return {
            key: _redacted_token(value)
            if key in TOKEN_KEYS and isinstance(value, str)
            else redacted(value)
            for key, value in payload.items()
        }
    if isinstance(payload, list | tuple):
        return [redacted(item) for item in payload]
    return payload


def _redacted_token(token: str) -> str:
    prefix = _TYPE_PREFIX.match(token)
    print_ = hashlib.sha256(token.encode(errors="surrogatepass")).hexdigest()[:8]
    return f"{prefix.group(0) if prefix else ''}…(fingerprint {print_})"


class BackroomClient:
    """Enqueue `orders.place`, `orders.cancel`, `orders.status` and `inventory.restock` by name."""

    def __init__(
        self,
        broker_url: str,
        *,
        result_backend: str | None = None,
        transport_options: dict[str, Any] | None = None,
    ) -> None:
        self.app = Celery("backroom-client", broker=broker_url, backend=result_backend)
        self.app.conf.update(
            broker_transport_options=transport_options or {},
            task_serializer="json",
            accept_content=["json"],
            result_accept_content=["json"],
            broker_connection_retry_on_startup=True,
        )

    def send(self, task: str, payload: dict[str, Any]) -> AsyncResult:
        """Any public task by name, with its keyword arguments as the JSON payload (shown with
        its payment tokens redacted)."""
        return self.app.send_task(
            task,
            kwargs=payload,
            queue=QUEUE,
            argsrepr="()",
            kwargsrepr=saferepr(redacted(payload), REPR_SIZE),
        )

    def place_order(self, **payload: Any) -> AsyncResult:
        return self.send("orders.place", payload)

    def cancel_order(self, order_number: str, reason: str) -> AsyncResult:
        return self.send("orders.cancel", {"order_number": order_number, "reason": reason})

    def order_status(self, order_number: str) -> AsyncResult:
        return self.send("orders.status", {"order_number": order_number})

    def restock(
        self, sku: str, quantity: int, reason: str, idempotency_key: str | None = None
    ) -> AsyncResult:
        payload: dict[str, Any] = {"sku": sku, "quantity": quantity, "reason": reason}
        if idempotency_key is not None:
            payload["idempotency_key"] = idempotency_key
        return self.send("inventory.restock", payload)

    def close(self) -> None:
        self.app.close()
