"""The one function that runs a step, whoever asks: a Celery task, the sweep's re-drive of a
lost message, a test.

`run_step` opens the step's unit of work, calls its handler, marks the handled message's
outbox row consumed and writes the next steps to the outbox, and commits; the caller then
publishes `Ran.steps`. A step sent by the beat for a slot (its payload names the entry and the
slot) runs once per slot: its run is marked started, then its work and the run's success
commit together with the run's row locked, so a duplicate waits and then finds it done. A
`CallOut` step first reads what to do and calls the outside world with no transaction open,
then records the answer the same way. A database rule the work
breaks (a CHECK, a UNIQUE, a value its column's type cannot hold) ends the step as
`RuleViolated`, a sentence that names the rule, never the raw SQL with the row's contents.
While a step runs, its name (and its order's number, when the payload names it) is bound for
the log lines (`domain.log_context`); the binding ends with the step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

from domain import contracts, integrity, log_context, steps, uow
from domain.handlers import jobs, orders, requests
from domain.handlers.step import CallOut, Done, Handler, Ports, Ran, Work
from domain.models import RunStatus
from domain.services import runs
from domain.uow import Step


@dataclass(frozen=True)
class Route:
    """A step name's payload (its arguments, validated) and handler."""

    payload: type[contracts.Payload]
    handler: Handler | CallOut[Any, Any, Any]


HANDLERS: dict[str, Route] = {
    steps.PLACE: Route(contracts.PlaceOrder, orders.place),
    steps.RESERVE: Route(contracts.OrderStep, orders.reserve),
    steps.CAPTURE: Route(contracts.OrderStep, orders.capture),
    steps.FULFIL: Route(contracts.OrderStep, orders.fulfil),
    steps.NOTIFY: Route(contracts.OrderStep, orders.send),
    steps.REFUND: Route(contracts.OrderStep, orders.refund),
    steps.CANCEL: Route(contracts.CancelOrder, requests.cancel),
    steps.STATUS: Route(contracts.OrderStatusQuery, requests.status),
    steps.RESTOCK: Route(contracts.Restock, requests.restock),
    steps.SWEEP: Route(contracts.Sweep, requests.sweep_orders),
    steps.EXPIRE_RESERVATIONS: Route(contracts.Slot, jobs.expire_reservations),
    steps.CHECK_REORDER: Route(contracts.Slot, jobs.check_reorder),
    steps.ROLLUP: Route(contracts.Slot, jobs.rollup),
    steps.ROLLUP_PREVIOUS_DAY: Route(contracts.Slot, jobs.rollup_previous_day),
    steps.NIGHTLY_REPORT: Route(contracts.Slot, jobs.nightly_report),
}


def parse(task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> contracts.Payload:
    """A step's arguments validated against its payload, or `ContractViolation` naming the
    first field that is wrong."""
    return contracts.parse(HANDLERS[task].payload, args, kwargs)


def run_step(ports: Ports, task: str, payload: Any, *, consumed: int | None = None) -> Ran:
    """Run the step `task` on its parsed `payload`; `consumed`: the outbox row of the message
    being handled, marked consumed in the step's transaction."""
    order = getattr(payload, "order_number", None)
    with log_context.scope(step=task, order=order):
        return _run(ports, task, payload, consumed)


def _run(ports: Ports, task: str, payload: Any, consumed: int | None) -> Ran:
    handler = HANDLERS[task].handler
    if isinstance(handler, CallOut):
        return _call_out(ports, handler, payload, consumed)
    if isinstance(payload, contracts.Scheduled) and payload.entry and payload.slot:
        return _once_per_slot(ports, task, payload, handler)
    return _in_one_transaction(ports, lambda work: handler(work, payload), consumed)


def run_message(ports: Ports, step: Step) -> Ran:
    """Run a step as its message asks: its keyword arguments parsed, its outbox row consumed."""
    return run_step(ports, step.task, parse(step.task, (), step.kwargs), consumed=step.id)


def _call_out(
    ports: Ports, step: CallOut[Any, Any, Any], payload: Any, consumed: int | None
) -> Ran:
    question = uow.read(ports.factory, lambda session: step.ask(session, payload))
    if question is None:  # nothing to do (a duplicate, a cancelled order): the message is used
        return _in_one_transaction(ports, lambda _: Done("skipped"), consumed)
    answer = step.call(ports, question)  # the outside world: no transaction is open here
    return _in_one_transaction(ports, lambda work: step.record(work, payload, answer), consumed)


def _in_one_transaction(ports: Ports, handle: Callable[[Work], Done], consumed: int | None) -> Ran:
    try:
        with ports.factory() as session, session.begin():
            done = handle(Work(session, ports.clock.now(), ports))
            written = uow.finish(session, consumed, done.next)
    except (IntegrityError, DataError) as error:
        raise integrity.explain(error) from None
    return Ran(done.result, [*done.resend, *written], done.error)


def _once_per_slot(ports: Ports, task: str, payload: contracts.Scheduled, handler: Handler) -> Ran:
    entry, slot = _slot_of(payload)
    with ports.factory.begin() as session:
        if not runs.start(session, entry, task, slot):
            return Ran(f"{entry} {slot.isoformat()} already succeeded", [])
    try:
        ran = _in_one_transaction(ports, lambda work: _slot_run(work, handler, payload), None)
    except Exception as error:
        with ports.factory.begin() as session:
            runs.finish(session, entry, slot, RunStatus.FAILED, error=_describe(error))
        raise
    return ran


def _slot_run(work: Work, handler: Handler, payload: contracts.Scheduled) -> Done:
    entry, slot = _slot_of(payload)
    if runs.lock(work.session, entry, slot) == RunStatus.SUCCEEDED:
        return Done(f"{entry} {slot.isoformat()} already succeeded")
    done = handler(work, payload)
    status = RunStatus.SUCCEEDED if done.error is None else RunStatus.FAILED
    result = json.dumps(done.result, default=str)
    error = None if done.error is None else _describe(done.error)
    runs.finish(work.session, entry, slot, status, result=result, error=error)
    return done


def _slot_of(payload: contracts.Scheduled) -> tuple[str, datetime]:
    if payload.entry is None or payload.slot is None:
        raise ValueError("a scheduled run needs its entry and its slot")
    return payload.entry, payload.slot


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
