"""`backroom` whose workers meet faults of their own making: a test-only entry point.

    python -m tests.chaos.faulty_worker worker -c 2 -n w1@%h -l INFO

takes the same arguments as `backroom` (`python -m workers.cli`) and runs it after two patches,
made before Celery starts, so every pool process inherits them:

- The payment gateway each process builds (`workers.runtime.build`) is wrapped: a share
  (`CHAOS_PAYMENT_FAULTS`, e.g. 0.3) of `authorize` and `capture` calls raise
  `PaymentUnavailable` before the provider sees them, as a provider that times out or answers
  503 would. `refund` is left alone.
- `StepPublisher.publish` fails in a share (`CHAOS_PUBLISH_FAULTS`, e.g. 0.2) of its calls with
  an error that is not kombu's: half raise `RuntimeError` before anything is sent, half send
  the steps and then raise `OSError` (the caller cannot tell whether they went).

Each process draws from its own `random.Random`, seeded with `CHAOS_SEED` and its pid: the
rates hold, and the log tells a run's faults apart, but a run cannot be replayed fault for
fault (which process runs which task is the broker's choice anyway). Each fault is appended
to `CHAOS_FAULT_LOG` as one line: `<unix time> <kind> <detail>`, where kind is one of `FAULTS`.
The simulated provider itself (`workers/adapters/payments.py`) is not changed.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import time
from pathlib import Path

from domain.ports import Authorization, Capture, PaymentGateway, PaymentUnavailable, Refund
from domain.uow import Step
from workers import runtime
from workers.publisher import StepPublisher
from workers.settings import Settings

PAYMENT_FAULTS = "CHAOS_PAYMENT_FAULTS"
PUBLISH_FAULTS = "CHAOS_PUBLISH_FAULTS"
SEED = "CHAOS_SEED"
FAULT_LOG = "CHAOS_FAULT_LOG"
FAULTS = ("authorize", "capture", "publish-before", "publish-after")

_rng: tuple[int, random.Random] | None = None


def _draw() -> float:
    """A number in [0, 1) from this process's generator (a forked child makes its own)."""
    global _rng
    if _rng is None or _rng[0] != os.getpid():
        _rng = (os.getpid(), random.Random(f"{os.environ.get(SEED, '0')}:{os.getpid()}"))
    return _rng[1].random()


def _rate(variable: str) -> float:
    return float(os.environ.get(variable) or 0)


def _record(kind: str, detail: str) -> None:
    log = os.environ.get(FAULT_LOG)
    if log:
        with Path(log).open("a") as out:  # one short line per append: whole under O_APPEND
            out.write(f"{time.time():.3f} {kind} {detail}\n")


class FaultyGateway:
    """A `PaymentGateway` that fails `rate` of authorize and capture calls before `inner`."""

    def __init__(self, inner: PaymentGateway, rate: float) -> None:
        self.inner = inner
        self.rate = rate
        self.name = inner.name

    def _maybe_fail(self, call: str, idempotency_key: str) -> None:
        if _draw() < self.rate:
            _record(call, idempotency_key)
            raise PaymentUnavailable(f"payment provider unavailable (chaos: {call} not answered)")

    def authorize(
        self, *, idempotency_key: str, amount: int, currency: str, token: str
    ) -> Authorization:
        self._maybe_fail("authorize", idempotency_key)
        return self.inner.authorize(
            idempotency_key=idempotency_key, amount=amount, currency=currency, token=token
        )

    def capture(self, *, idempotency_key: str, authorization: Authorization) -> Capture:
        self._maybe_fail("capture", idempotency_key)
        return self.inner.capture(idempotency_key=idempotency_key, authorization=authorization)

    def refund(self, *, idempotency_key: str, amount: int) -> Refund:
        return self.inner.refund(idempotency_key=idempotency_key, amount=amount)


def install() -> None:
    """Patch the gateway and the publisher as the environment asks (a rate of 0: untouched)."""
    payment_rate, publish_rate = _rate(PAYMENT_FAULTS), _rate(PUBLISH_FAULTS)
    if payment_rate:
        build = runtime.build

        def faulty_build(settings: Settings) -> runtime.Runtime:
            built = build(settings)
            ports = dataclasses.replace(
                built.ports, gateway=FaultyGateway(built.ports.gateway, payment_rate)
            )
            return dataclasses.replace(built, ports=ports)

        runtime.build = faulty_build
    if publish_rate:
        publish = StepPublisher.publish

        def faulty_publish(self: StepPublisher, steps: list[Step]) -> None:
            draw = _draw()
            ids = ",".join(str(step.id) for step in steps)
            if draw < publish_rate / 2:
                _record("publish-before", ids)
                raise RuntimeError("chaos: the publisher failed before sending")
            publish(self, steps)
            if draw < publish_rate:
                _record("publish-after", ids)
                raise OSError("chaos: the publisher failed after sending")

        StepPublisher.publish = faulty_publish  # type: ignore[method-assign]


def main() -> int:
    install()
    from workers.cli import main as backroom

    return backroom()


if __name__ == "__main__":
    sys.exit(main())
