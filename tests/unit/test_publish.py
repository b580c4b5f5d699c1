"""After a step commits, a failure to send its next steps never fails the task: the steps are
in the outbox, and the sweep sends them (`workers.base.publish`). A database that went away
during a step makes it retry, never a dead letter (`workers.base.execute`)."""

from __future__ import annotations

import logging

import psycopg2
import pytest
from kombu.exceptions import OperationalError
from sqlalchemy.exc import DBAPIError

from domain.db import database_away
from domain.errors import RetryableError
from domain.uow import Step
from workers import base
from workers.base import BackroomTask, DatabaseAway

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


def _wrapped(error: Exception, *, invalidated: bool = False) -> DBAPIError:
    return DBAPIError.instance(
        "SELECT 1", {}, error, psycopg2.Error, connection_invalidated=invalidated
    )


def test_given_a_server_that_crashed_mid_statement_then_the_step_is_retried_not_dead_lettered() -> (
    None
):
    crashed = _wrapped(psycopg2.DatabaseError("server closed the connection"), invalidated=True)
    refused = _wrapped(psycopg2.DataError("integer out of range"))
    unreachable = _wrapped(psycopg2.OperationalError("connection refused"))

    assert [database_away(e) for e in (crashed, refused, unreachable)] == [True, False, True]
    assert issubclass(DatabaseAway, RetryableError)
    assert any(issubclass(DatabaseAway, kind) for kind in BackroomTask.autoretry_for)
