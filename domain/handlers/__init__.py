"""The application layer: one handler per step name, and the one function that runs them.

Read the order pipeline in `domain/handlers/orders.py`, top to bottom, from `orders.place` to
the last email; the other requests in `requests.py`; the beat's scheduled jobs in `jobs.py`;
what comes next for an order in `flow.py`; how a step's transaction is run (and a scheduled
slot run once) in `runner.py`. The Celery tasks (`tasks/`), the
sweep and the tests all go through `run_step`: parse the payload, run the step, publish
`Ran.steps` after the commit.
"""

from __future__ import annotations

from domain.handlers.runner import HANDLERS, parse, run_message, run_step
from domain.handlers.step import Done, JobPolicy, Ports, Ran, SweepPolicy, Work
from domain.services.notify import MailPolicy

__all__ = [
    "HANDLERS",
    "Done",
    "JobPolicy",
    "MailPolicy",
    "Ports",
    "Ran",
    "SweepPolicy",
    "Work",
    "parse",
    "run_message",
    "run_step",
]
