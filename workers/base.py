"""The base of every Backroom task: retry policy, dead letters, and `execute`, which is what
a task does: parse its payload, run its step's handler, publish the next steps."""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError, OperationalError

from domain.db import database_away, unit_of_work
from domain.errors import Refused, RetryableError
from domain.handlers import parse, run_step
from domain.services import dead_letters
from domain.storable import storable, storable_text
from domain.uow import Step
from workers import runtime as rt_module
from workers.publisher import StepPublisher

log = logging.getLogger("backroom.tasks")


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
            ports = rt_module.runtime().ports
            # what PostgreSQL cannot hold (a NUL, NaN, ...) is replaced, and the reason says so
            payload, replaced = storable({"args": list(args or []), "kwargs": dict(kwargs or {})})
            reason = storable_text(str(exc) or type(exc).__name__)
            if replaced:
                reason += f" [kept with {replaced} part(s) PostgreSQL cannot store replaced]"
            with unit_of_work(ports.factory) as session:
                dead_letters.record(
                    session,
                    task=self.name,
                    task_id=task_id,
                    queue=queue,
                    payload=payload,
                    reason=reason,
                    error_type=type(exc).__name__,
                    sealer=ports.sealer,  # a payment token in the payload is kept sealed
                )
            log.warning("dead letter: task=%s id=%s reason=%s", self.name, task_id, exc)
        except Exception:  # the database is down too: the broker's failure record remains
            log.exception("could not record dead letter for task %s id %s", self.name, task_id)


def publish(steps: list[Step]) -> None:
    """Send the next steps after the commit; if that fails, the sweep sends them.

    Each message carries its outbox row's id; the step marks the row consumed when it runs.
    The work is committed and its next steps are in the outbox whatever happens here, so no
    failure to send ends the task: kombu's (the broker is away) nor any other (a socket error
    the transport did not wrap, a bug in a serializer). Such a failure drops this process's
    producer, so the next send starts on a fresh one.
    """
    if not steps:
        return
    try:
        _publisher().publish(steps)
    except BrokerError:
        log.warning("broker unavailable: %d step(s) left to the sweep", len(steps))
    except Exception:
        log.exception("publish failed: %d step(s) left to the sweep", len(steps))
        _publisher().close()


@functools.cache
def _publisher() -> StepPublisher:
    from workers.app import app

    return StepPublisher(app)


def execute(
    task: str, args: tuple[Any, ...], kwargs: dict[str, Any], outbox_id: int | None = None
) -> Any:
    """What every task does: its arguments parsed against the step's payload, the step run
    (`domain.handlers.run_step`: its unit of work, marking its outbox row consumed), the next
    steps published after the commit; its result, or the error it ended with."""
    payload = parse(task, args, kwargs)
    try:
        ran = run_step(rt_module.runtime().ports, task, payload, consumed=outbox_id)
    except DBAPIError as error:
        if database_away(error):
            raise DatabaseAway(f"the database went away: {error.orig}") from error
        raise
    publish(ran.steps)
    return ran.value()


class DatabaseAway(RetryableError):
    """The database dropped the step's connection or could not be reached: the step is tried
    again, like any passing fault (its work was rolled back with the connection)."""


@worker_process_init.connect
def _build_runtime(**_: Any) -> None:
    rt_module.runtime()


@worker_process_shutdown.connect
def _close_runtime(**_: Any) -> None:
    rt_module.close()
    _publisher().close()
