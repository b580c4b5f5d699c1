"""Sends a saga's next steps: Celery task messages, built by Celery, on a producer kept per process.

`app.send_task` does, for every message, work whose result is the same for every message of
one task name: it asks the router for the queue, takes a producer from the pool and gives it
back, binds a fresh copy of the queue to the channel to check it was declared, works out the
node name, and builds an `AsyncResult` (whose `__del__` unregisters it from the result
backend) that nobody reads for an internal step. A pipeline worker publishes a next step for
nearly every task it runs, so that repeated work is paid on the hot path, over and over, for
answers it already has.

`StepPublisher` keeps what does not change: one producer per worker process (made after the
fork, as Celery's pool would), each task name's route resolved once, its queue bound once
(the declaration is still checked against the connection's cache on each send, and made
again after a reconnect), the origin node name. The message itself is Celery's: protocol 2 from
`app.amqp.create_task_message`, sent by `app.amqp.send_task_message` with the app's publish
retry policy, so workers, Flower and other clients see exactly what `send_task` would send.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.utils import uuid
from celery.utils.nodenames import anon_nodename

from domain.uow import Step


class StepPublisher:
    def __init__(self, app: Celery) -> None:
        self.app = app
        self._pid: int | None = None
        self._producer: Any = None
        self._routes: dict[str, dict[str, Any]] = {}
        self._origin = anon_nodename()

    def publish(self, steps: list[Step]) -> None:
        """Send each step (kombu's `OperationalError` if the broker stays away)."""
        producer = self._producer_here()
        parent = self.app.current_worker_task
        root_id = parent_id = None
        if parent is not None:
            parent_id = parent.request.id
            root_id = parent.request.root_id or parent_id
        for step in steps:
            kwargs = step.message_kwargs()
            message = self.app.amqp.create_task_message(
                uuid(),
                step.task,
                (),
                kwargs,
                root_id=root_id,
                parent_id=parent_id,
                origin=self._origin,
                ignore_result=True,  # internal steps: nobody waits for their results
                argsrepr="()",
                kwargsrepr=repr(kwargs),  # ids only: no need for Celery's guarded repr
            )
            self.app.amqp.send_task_message(
                producer, step.task, message, **self._route(step.task, producer)
            )

    def close(self) -> None:
        if self._producer is not None and self._pid == os.getpid():
            self._producer.release()
        self._producer = self._pid = None
        self._routes.clear()

    def _producer_here(self) -> Any:
        if self._producer is None or self._pid != os.getpid():  # never a parent's after a fork
            self._producer = self.app.producer_pool.acquire(block=True)
            self._pid = os.getpid()
            self._routes.clear()
        return self._producer

    def _route(self, task: str, producer: Any) -> dict[str, Any]:
        route = self._routes.get(task)
        if route is None:
            route = dict(self.app.amqp.router.route({}, task, (), {}))
            queue = route.get("queue")
            if queue is not None:  # bound once: kombu copies an unbound queue on every send
                route["queue"] = queue.bind(producer.channel)
            self._routes[task] = route
        return route
