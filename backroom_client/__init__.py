"""A small client for Backroom's public tasks: needs only Celery, imports no worker code.

    from backroom_client import BackroomClient
    client = BackroomClient("redis://localhost:6379/0", result_backend="redis://localhost:6379/0")
    result = client.place_order(idempotency_key="cart-8812", customer_email="ada@example.com", ...)
    result.get(timeout=10)  # {"order_id": ..., "order_number": "ORD-...", "status": "pending"}

Every public task is read from the queue `orders` (contract v1, see docs/contract-v1.json).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.result import AsyncResult

QUEUE = "orders"
__all__ = ["QUEUE", "BackroomClient"]


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
        """Any public task by name, with its keyword arguments as the JSON payload."""
        return self.app.send_task(task, kwargs=payload, queue=QUEUE)

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
