"""The simulated payment provider on a real PostgreSQL: one key, one payment, one capture."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from domain.db import make_engine
from domain.ports import Authorization, Capture, PaymentDeclined, PaymentGateway, PaymentUnavailable
from workers.adapters.payments import SimulatedGateway

EUR = "EUR"


@pytest.fixture
def gateway(engine: Engine) -> Iterator[SimulatedGateway]:
    """A fresh provider ledger for each test, emptied again afterwards."""
    gateway = SimulatedGateway(engine, slow_seconds=0.2)
    _truncate(engine)
    yield gateway
    _truncate(engine)


def _truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE payment_sim.payments"))


def pay(gateway: SimulatedGateway, key: str, token: str = "tok_ok", amount: int = 1250) -> Capture:
    authorization = gateway.authorize(idempotency_key=key, amount=amount, currency=EUR, token=token)
    return gateway.capture(idempotency_key=key, authorization=authorization)


def test_given_the_simulator_then_it_is_a_payment_gateway(gateway: SimulatedGateway) -> None:
    port: PaymentGateway = gateway
    assert port.name == "simulated"


def test_given_tok_ok_when_paying_then_approved_and_captured_once(
    gateway: SimulatedGateway,
) -> None:
    capture = pay(gateway, "order-1")

    assert capture.reference.startswith("sim_ch_")
    assert capture.amount == 1250
    assert capture.captured_at.utcoffset() == timedelta(0)
    assert gateway.captures() == 1
    assert gateway.captures("order-1") == 1
    assert gateway.captured_total() == 1250


def test_given_a_captured_key_when_paying_again_then_same_payment_and_no_second_capture(
    gateway: SimulatedGateway, engine: Engine
) -> None:
    first = pay(gateway, "order-1")

    second = pay(SimulatedGateway(engine), "order-1")

    assert second == first
    assert gateway.captures("order-1") == 1
    assert gateway.captured_total() == 1250
    assert len(gateway.ledger()) == 1


def test_given_tok_decline_when_authorizing_then_declined_and_nothing_captured(
    gateway: SimulatedGateway,
) -> None:
    with pytest.raises(PaymentDeclined, match="card declined"):
        pay(gateway, "order-1", token="tok_decline")
    with pytest.raises(PaymentDeclined, match="card declined"):
        pay(gateway, "order-1", token="tok_decline")

    assert gateway.captures() == 0
    assert gateway.captured_total() == 0


def test_given_an_unknown_token_when_authorizing_then_declined(gateway: SimulatedGateway) -> None:
    with pytest.raises(PaymentDeclined, match="unknown payment token"):
        pay(gateway, "order-1", token="tok_stolen")

    assert gateway.captures() == 0


def test_given_tok_flaky_when_retried_from_two_processes_then_unavailable_twice_then_approved(
    gateway: SimulatedGateway, engine: Engine
) -> None:
    other = SimulatedGateway(engine)

    with pytest.raises(PaymentUnavailable):
        pay(gateway, "order-1", token="tok_flaky")
    with pytest.raises(PaymentUnavailable):
        pay(other, "order-1", token="tok_flaky")
    capture = pay(gateway, "order-1", token="tok_flaky")

    assert capture.amount == 1250
    assert gateway.captures("order-1") == 1
    assert gateway.ledger()[0]["authorize_attempts"] == 3


def test_given_tok_slow_when_authorizing_then_it_takes_slow_seconds(
    gateway: SimulatedGateway,
) -> None:
    started = time.monotonic()
    gateway.authorize(idempotency_key="order-1", amount=1250, currency=EUR, token="tok_slow")

    assert time.monotonic() - started >= 0.2


def test_given_tok_slow_when_authorizing_then_it_waits_two_seconds_holding_no_connection(
    gateway: SimulatedGateway, engine: Engine
) -> None:
    checked_out: list[int] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        checked_out.append(engine.pool.checkedout())  # type: ignore[attr-defined]

    slow = SimulatedGateway(engine, sleep=sleep)
    slow.authorize(idempotency_key="order-1", amount=1250, currency=EUR, token="tok_slow")

    assert waits == [2.0]
    assert checked_out == [0]


def test_given_8_processes_when_paying_the_same_key_at_once_then_one_capture(
    gateway: SimulatedGateway, database_url: str
) -> None:
    start = threading.Barrier(8)

    def one_process(_: int) -> Capture:
        engine = make_engine(database_url, pool_size=0)
        try:
            process_gateway = SimulatedGateway(engine)
            start.wait()
            return pay(process_gateway, "order-1")
        finally:
            engine.dispose()

    with ThreadPoolExecutor(max_workers=8) as pool:
        captures = list(pool.map(one_process, range(8)))

    assert len(set(captures)) == 1
    assert gateway.captures() == 1
    assert gateway.captured_total() == 1250


def test_given_a_captured_payment_when_refunding_twice_then_refunded_once(
    gateway: SimulatedGateway,
) -> None:
    pay(gateway, "order-1")

    first = gateway.refund(idempotency_key="order-1", amount=500)
    second = gateway.refund(idempotency_key="order-1", amount=500)

    assert second == first
    assert first.reference.startswith("sim_re_")
    assert first.refunded_at.utcoffset() == timedelta(0)
    (row,) = gateway.ledger()
    assert (row["status"], row["refunded_amount"]) == ("refunded", 500)
    with pytest.raises(PaymentDeclined, match="already refunded"):
        gateway.refund(idempotency_key="order-1", amount=700)


def test_given_an_uncaptured_payment_when_refunding_then_declined(
    gateway: SimulatedGateway,
) -> None:
    gateway.authorize(idempotency_key="order-1", amount=1250, currency=EUR, token="tok_ok")

    with pytest.raises(PaymentDeclined, match="not captured"):
        gateway.refund(idempotency_key="order-1", amount=500)
    with pytest.raises(PaymentDeclined, match="no payment"):
        gateway.refund(idempotency_key="order-2", amount=500)


def test_given_a_captured_payment_when_refunding_more_than_captured_then_declined(
    gateway: SimulatedGateway,
) -> None:
    pay(gateway, "order-1")

    with pytest.raises(PaymentDeclined, match="not within the captured 1250"):
        gateway.refund(idempotency_key="order-1", amount=1251)


def test_given_a_used_key_when_reused_with_another_amount_then_declined(
    gateway: SimulatedGateway,
) -> None:
    pay(gateway, "order-1")

    with pytest.raises(PaymentDeclined, match="idempotency key reused with a different amount"):
        pay(gateway, "order-1", amount=9999)
    with pytest.raises(PaymentDeclined, match="idempotency key reused with a different amount"):
        gateway.authorize(idempotency_key="order-1", amount=1250, currency="USD", token="tok_ok")

    assert gateway.captured_total() == 1250


def test_given_a_foreign_authorization_when_capturing_then_declined(
    gateway: SimulatedGateway,
) -> None:
    gateway.authorize(idempotency_key="order-1", amount=1250, currency=EUR, token="tok_ok")
    forged = Authorization(reference="sim_ch_other", amount=1250, currency=EUR)

    with pytest.raises(PaymentDeclined, match="does not belong"):
        gateway.capture(idempotency_key="order-1", authorization=forged)

    assert gateway.captures() == 0


def test_given_an_empty_database_when_8_processes_install_at_once_then_all_succeed(
    scratch_database: str,
) -> None:
    start = threading.Barrier(8)

    def one_process(_: int) -> int:
        engine = make_engine(scratch_database, pool_size=0)
        try:
            start.wait()
            return SimulatedGateway(engine).captures()
        finally:
            engine.dispose()

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(one_process, range(8))) == [0] * 8
