"""The base of every Backroom task: retry policy, dead letters, publishing next steps."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from domain.errors import RetryableError
from domain.services import dead_letters
from domain.uow import Step, run
from workers import runtime as rt_module
from workers.publisher import StepPublisher

log = logging.getLogger("backroom.tasks")


class Refused(Exception):
    """A valid request the domain answered 'no' to: the caller's answer, not a dead letter."""


class BackroomTask(Task):  # type: ignore[misc]
    """Transient faults retry with exponential backoff and jitter; anything that finally
    fails (bad input, retries exhausted) is kept as a dead letter for an operator."""

    Request = "workers.request:BackroomRequest"  # acks survive a broker connection that died
    autoretry_for = (RetryableError, OperationalError, SoftTimeLimitExceeded)
    retry_backoff = 1
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 8

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if isinstance(exc, Refused):
            return
        try:
            queue = (self.request.delivery_info or {}).get("routing_key")
            run(
                rt_module.runtime().factory,
                lambda s: dead_letters.record(
                    s,
                    task=self.name,
                    task_id=task_id,
                    queue=queue,
                    payload={"args": list(args or []), "kwargs": dict(kwargs or {})},
                    reason=str(exc) or type(exc).__name__,
                    error_type=type(exc).__name__,
                ),
            )
            log.warning("dead letter: task=%s id=%s reason=%s", self.name, task_id, exc)
        except Exception:  # the database is down too: the broker's failure record remains
            log.exception("could not record dead letter for task %s id %s", self.name, task_id)


def publish(steps: list[Step]) -> None:
    """Send the next steps after the commit; if the broker is away, the sweep sends them.

    Each message carries its outbox row's id; the step marks the row consumed when it runs.
    """
    if not steps:
        return
    try:
        _publisher().publish(steps)
    except BrokerError:
        log.warning("broker unavailable: %d step(s) left to the sweep", len(steps))


@functools.cache
def _publisher() -> StepPublisher:
    from workers.app import app

    return StepPublisher(app)


OrderStep = Callable[[Session, uuid.UUID, datetime], str]


def run_order_step(step: OrderStep, order_id: str, outbox_id: int | None, name: str) -> str:
    """One saga step on one order: its unit of work (marking its outbox row consumed), then
    the next steps published, then one log line."""
    rt = rt_module.runtime()
    oid = uuid.UUID(order_id)
    result, next_steps = run(rt.factory, lambda s: step(s, oid, rt.clock.now()), consumed=outbox_id)
    publish(next_steps)
    log.debug("order_id=%s %s -> %s", order_id, name, result)
    return result


@worker_process_init.connect
def _build_runtime(**_: Any) -> None:
    rt_module.runtime()


@worker_process_shutdown.connect
def _close_runtime(**_: Any) -> None:
    rt_module.close()
    _publisher().close()
