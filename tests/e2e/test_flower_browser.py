"""Flower as an operator sees it: headless Chromium logs in to `backroom flower` (on Redis,
with a real worker that has shipped an order) and reads the Workers, Tasks, task and Broker
pages; without credentials it gets 401.

Flower fills its tables by XHR after the page has loaded, and keeps polling the Workers page:
pages are opened at their load event and the rows awaited with playwright's `expect`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backroom_client import redacted
from tests import factories
from tests.brokers import of_its_own, worker_env
from tests.browser import Browser
from tests.e2e.flower import USER, Flower, running_flower
from tests.e2e.harness import Broker, Processes, run_id, scalar, wait_for, wait_for_workers
from tests.smtp_server import SmtpServer

QUEUES = {"orders", "inventory", "payments", "notifications", "reports"}
ROWS_WITHIN = 30_000  # ms: Flower learns of workers and tasks from their events


@pytest.fixture
def broker(redis_broker: Broker) -> Broker:
    """Redis only (this module's `processes` use it too), under a key prefix of the test's own.
    On RabbitMQ the Broker page needs the management plugin, which this machine lacks."""
    return of_its_own(redis_broker)


@pytest.fixture
def flower(
    database_url: str, broker: Broker, smtp_server: SmtpServer, tmp_path: Path
) -> Iterator[Flower]:
    """`backroom flower` on the workers' broker, started before them: it shows the tasks whose
    events it saw."""
    with running_flower(worker_env(database_url, broker, smtp_server, tmp_path), tmp_path) as up:
        yield up


def place_and_ship(broker: Broker, clean: Engine, processes: Processes, token: str) -> str:
    """One order for a product in stock, paid with `token`, followed until it has shipped;
    its order number."""
    with Session(clean) as s, s.begin():
        factories.product(s, sku="FLOWER-1", on_hand=5, base_price=1250)
    client = broker.client()
    try:
        placed = client.place_order(
            idempotency_key=f"flower-{run_id()}",
            customer_email="ada@example.com",
            customer_name="Ada Lovelace",
            currency="USD",
            lines=[{"sku": "FLOWER-1", "quantity": 1}],
            shipping_address=factories.ADDRESS,
            payment_token=token,
        ).get(timeout=30)
    finally:
        client.close()
    number = str(placed["order_number"])
    status = "SELECT status FROM orders WHERE order_number = :number"
    wait_for(
        lambda: scalar(clean, status, number=number) == "shipped",
        60,
        f"order {number} shipped",
        processes.logs,
    )
    return number


def open_task(page: Page, name: str) -> None:
    """From the Tasks page, the task page of the (first) task called `name`."""
    row = page.locator("#tasks-table tbody tr", has_text=name).first
    expect(row).to_be_visible(timeout=ROWS_WITHIN)
    row.locator("a[href*='/task/']").click()
    page.wait_for_url("**/task/**")


def detail(page: Page, label: str) -> Locator:
    """The row of a task page labelled `label` ("Keyword arguments", "Result", "Worker")."""
    return page.locator(".detail-row").filter(has=page.get_by_text(label, exact=True))


def test_given_worker_and_shipped_order_when_operator_logs_in_then_sees_worker_task_and_queues(
    broker: Broker,
    flower: Flower,
    processes: Processes,
    clean: Engine,
    browser: Browser,
) -> None:
    name, token = f"flower-{run_id()}", f"tok_ok_{secrets.token_hex(8)}"
    processes.worker(name, concurrency=1)
    wait_for_workers(broker, 1, processes)
    number = place_and_ship(broker, clean, processes, token)
    login = (USER, flower.password)

    workers = browser.open(flower.url + "workers", credentials=login, wait_until="load")
    worker = workers.locator("#workers-table tbody tr", has_text=f"{name}@")
    expect(worker).to_contain_text("Online", timeout=ROWS_WITHIN)

    tasks = browser.open(flower.url + "tasks", credentials=login, wait_until="load")
    open_task(tasks, "orders.place")
    kwargs = detail(tasks, "Keyword arguments")
    expect(kwargs).to_contain_text("'customer_email': 'ada@example.com'")
    expect(kwargs).to_contain_text(redacted({"payment_token": token})["payment_token"])
    expect(detail(tasks, "Result")).to_contain_text(f"'order_number': '{number}'")
    for shown in (tasks.content(), tasks.inner_text("body")):
        assert token not in shown, "the payment token is shown in clear on the task page"

    queues = browser.open(flower.url + "broker", credentials=login, wait_until="load")
    names = queues.locator("#queue-table tbody tr > td:first-child").all_inner_texts()
    assert set(names) >= QUEUES, f"the Broker page lists {names}"


def test_given_flower_when_chromium_without_or_with_wrong_credentials_then_401(
    flower: Flower, browser: Browser
) -> None:
    page, response = browser.visit(flower.url + "workers", wait_until="load")
    assert response.status == 401
    assert response.headers.get("www-authenticate", "").startswith("Basic ")
    assert "workers-table" not in page.content()

    wrong = (USER, "not-" + flower.password)
    page, response = browser.visit(flower.url + "workers", credentials=wrong, wait_until="load")
    assert response.status == 401
    assert "workers-table" not in page.content()
