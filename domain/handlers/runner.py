"""The one function that runs a step, whoever asks: a Celery task, the sweep's re-drive of a
lost message, a test.

`run_step` opens the step's unit of work, calls its handler, marks the handled message's
outbox row consumed and writes the next steps to the outbox, and commits; the caller then
publishes `Ran.steps`. A `CallOut` step first reads what to do and calls the outside world
with no transaction open, then records the answer the same way. A database rule the work
breaks (a CHECK, a UNIQUE) ends the step as `RuleViolated`, a sentence that names the rule,
never the raw SQL with the row's contents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from domain import contracts, integrity, steps, uow
from domain.handlers import orders, requests
from domain.handlers.step import CallOut, Done, Handler, Ports, Ran, Work
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
}


def parse(task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> contracts.Payload:
    """A step's arguments validated against its payload, or `ContractViolation` naming the
    first field that is wrong."""
    return contracts.parse(HANDLERS[task].payload, args, kwargs)


def run_step(ports: Ports, task: str, payload: Any, *, consumed: int | None = None) -> Ran:
    """Run the step `task` on its parsed `payload`; `consumed`: the outbox row of the message
    being handled, marked consumed in the step's transaction."""
    handler = HANDLERS[task].handler
    if isinstance(handler, CallOut):
        return _call_out(ports, handler, payload, consumed)
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
    except IntegrityError as error:
        raise integrity.explain(error) from None
    return Ran(done.result, [*done.resend, *written], done.error)
