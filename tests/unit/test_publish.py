"""After a step commits, a failure to send its next steps never fails the task: the steps are
in the outbox, and the sweep sends them (`workers.base.publish`)."""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import OperationalError

from domain.uow import Step
from workers import base

STEPS = [Step(1, "inventory.reserve", {"order_id": "0b7e3c3e-3f0a-4f43-9b7b-5b1c8a1f0d01"})]


class Failing:
    """A publisher whose send fails with `error`; it records being closed."""

    def __init__(self, error: Exception) -> None:
        self.error, self.closed = error, False

    def publish(self, steps: list[Step]) -> None:
        raise self.error

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("reset by peer"), TimeoutError("timed out"), ValueError("a bug")],
)
def test_given_a_send_failing_not_in_kombu_then_the_task_goes_on_and_the_producer_is_dropped(
    error: Exception, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Failing(error)
    monkeypatch.setattr(base, "_publisher", lambda: failing)

    with caplog.at_level(logging.WARNING, logger="backroom.tasks"):
        base.publish(STEPS)

    assert failing.closed
    assert "publish failed: 1 step(s) left to the sweep" in caplog.text
    assert str(error) in caplog.text  # the traceback is logged


def test_given_the_broker_away_then_the_steps_are_left_to_the_sweep_and_the_producer_kept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Failing(OperationalError("connection refused"))
    monkeypatch.setattr(base, "_publisher", lambda: failing)

    with caplog.at_level(logging.WARNING, logger="backroom.tasks"):
        base.publish(STEPS)

    assert not failing.closed  # kombu reconnects it
    assert "broker unavailable: 1 step(s) left to the sweep" in caplog.text


def test_an_exit_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exiting(Failing):
        def publish(self, steps: list[Step]) -> None:
            raise SystemExit(1)

    monkeypatch.setattr(base, "_publisher", lambda: Exiting(ValueError()))

    with pytest.raises(SystemExit):
        base.publish(STEPS)
