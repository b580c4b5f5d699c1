"""Queues and which task goes where. Public tasks are all read from `orders`."""

from __future__ import annotations

from typing import Any

from kombu.entity import Queue

QUEUES = ("orders", "inventory", "payments", "notifications", "reports")

_EXACT = {
    "inventory.restock": "orders",  # public: callers name the queue `orders` for every public task
}
_BY_AREA = {
    "orders": "orders",
    "inventory": "inventory",
    "payments": "payments",
    "notifications": "notifications",
    "reports": "reports",
    "analytics": "reports",
}


def queue_for(task_name: str) -> str:
    """`area.verb` -> the area's queue; unknown areas go to `orders`, where they are refused."""
    return _EXACT.get(task_name) or _BY_AREA.get(task_name.split(".", 1)[0], "orders")


def route(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict[str, str]:
    return {"queue": queue_for(name)}


def declare() -> list[Queue]:
    return [Queue(name, routing_key=name) for name in QUEUES]
