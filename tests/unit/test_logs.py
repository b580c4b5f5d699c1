"""The log lines (`workers.logs`): JSON, one object per line whatever the record holds, and
readable text, both naming the task, order and step where known, and neither showing a
payment token or a secret."""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from celery import Celery
from pydantic import SecretStr

from domain import log_context
from domain.secrets import fingerprint
from workers import logs
from workers.logs import JsonFormatter, TextFormatter
from workers.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_env")  # tests/unit/conftest.py

TOKEN = "tok_ok_5b2e9d"
SHOWN = f"tok_…(fingerprint {fingerprint(TOKEN)[:8]})"


class Captured:
    """A logger whose lines, formatted by the formatter under test, are kept."""

    def __init__(self, formatter: logging.Formatter, name: str) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.logger = logging.getLogger(name)
        self.logger.handlers, self.logger.propagate = [self.handler], False
        self.logger.setLevel(logging.DEBUG)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def as_json() -> Iterator[Captured]:
    captured = Captured(JsonFormatter(), "backroom.json")
    yield captured
    captured.logger.handlers = []


@pytest.fixture
def as_text() -> Iterator[Captured]:
    captured = Captured(TextFormatter(), "backroom.text")
    yield captured
    captured.logger.handlers = []


def bare(message: str = "x %(task_name)s", args: Any = None) -> logging.LogRecord:
    """A record as billiard makes one (a pool process's death): no task fields at all."""
    return logging.LogRecord("multiprocessing", logging.ERROR, __file__, 1, message, args, None)


def test_given_a_step_bound_when_logged_as_json_then_one_object_with_every_field(
    as_json: Captured,
) -> None:
    with log_context.scope(step="inventory.reserve", order="ORD-20240501-ABC123"):
        as_json.logger.info("order=%s reserved", "ORD-20240501-ABC123")

    [line] = as_json.objects()
    assert line["message"] == "order=ORD-20240501-ABC123 reserved"
    assert (line["order"], line["step"]) == ("ORD-20240501-ABC123", "inventory.reserve")
    assert (line["level"], line["logger"], line["process"]) == (
        "INFO",
        "backroom.json",
        "MainProcess",
    )
    assert isinstance(line["pid"], int)
    assert (line["task_id"], line["task_name"]) == (None, None)  # no task runs here
    offset = datetime.fromisoformat(line["time"]).utcoffset()
    assert offset is not None
    assert offset.total_seconds() == 0
    assert line["time"].endswith("Z")
    assert len(line["time"].split(".")[1]) == len("123Z")  # milliseconds
    assert "exc_info" not in line


def test_given_a_traceback_when_logged_as_json_then_still_one_line_holding_it(
    as_json: Captured,
) -> None:
    try:
        raise ValueError("the provider\nsaid no")
    except ValueError:
        as_json.logger.exception("capture failed")

    [line] = as_json.objects()  # one line, valid JSON
    assert line["message"] == "capture failed"
    assert line["exc_info"].startswith("Traceback (most recent call last):")
    assert line["exc_info"].endswith("ValueError: the provider\nsaid no")


@pytest.mark.parametrize(
    "logged",
    [
        f"kwargs={{'payment_token': '{TOKEN}', 'currency': 'USD'}}",
        f'body={{"payment_token": "{TOKEN}"}}',
        f"charging token={TOKEN} now",
        f"provider refused {TOKEN}",
    ],
)
def test_given_a_token_in_a_message_when_logged_then_each_format_shows_it_redacted(
    as_json: Captured, as_text: Captured, logged: str
) -> None:
    as_json.logger.warning("%s", logged)
    as_text.logger.warning("%s", logged)

    assert TOKEN not in as_json.stream.getvalue() + as_text.stream.getvalue()
    assert SHOWN in as_json.objects()[0]["message"]
    assert SHOWN in as_text.lines()[0]


def test_given_a_token_in_a_traceback_when_logged_then_it_is_redacted_there_too(
    as_json: Captured, as_text: Captured
) -> None:
    for captured in (as_json, as_text):
        try:
            raise RuntimeError(f"declined pm_card_{TOKEN[7:]} and {TOKEN}")
        except RuntimeError:
            captured.logger.exception("failed")

    assert TOKEN not in as_json.stream.getvalue() + as_text.stream.getvalue()
    assert TOKEN[7:] not in as_json.stream.getvalue() + as_text.stream.getvalue()
    assert SHOWN in as_json.objects()[0]["exc_info"]
    assert "pm_…(fingerprint " in as_text.stream.getvalue()


def test_given_a_token_already_redacted_when_logged_then_it_is_left_as_it_is(
    as_text: Captured,
) -> None:
    as_text.logger.info("kwargs={'payment_token': '%s'} hint=tok_ and %s", SHOWN, SHOWN)

    assert as_text.lines()[0].endswith(
        f"kwargs={{'payment_token': '{SHOWN}'}} hint=tok_ and {SHOWN}"
    )


def test_given_a_settings_secret_when_logged_then_its_value_never_shows(as_json: Captured) -> None:
    settings = Settings(smtp_password=SecretStr("hunter2-smtp"), flower_password="hunter2-fl")

    as_json.logger.warning("settings: %s %r", settings, settings)

    assert "hunter2" not in as_json.stream.getvalue()


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_given_a_bare_record_when_formatted_then_no_error_and_the_fields_unknown(
    formatter: logging.Formatter,
) -> None:
    text = formatter.format(bare())
    wrong_args = formatter.format(bare("Process %r pid:%r exited with %r", ("w-1",)))

    assert "x %(task_name)s" in text  # no KeyError: the message is the record's own
    assert "Process %r pid:%r exited with %r" in wrong_args
    assert "('w-1',)" in wrong_args
    if isinstance(formatter, JsonFormatter):
        assert json.loads(text) | {"time": None, "pid": None} == {
            "time": None,
            "pid": None,
            "level": "ERROR",
            "logger": "multiprocessing",
            "process": "MainProcess",
            "message": "x %(task_name)s",
            "task_id": None,
            "task_name": None,
            "order": None,
            "step": None,
        }
    else:
        assert " task=- id=- order=- step=- multiprocessing: x %(task_name)s" in text


def test_given_everything_known_when_logged_as_text_then_the_line_names_it(
    as_text: Captured,
) -> None:
    with log_context.scope(step="payments.capture", order="ORD-20240501-ABC123"):
        as_text.logger.info("captured")
    as_text.logger.info("after the step")

    during, after = as_text.lines()
    assert during.endswith(
        "INFO [MainProcess] task=- id=- order=ORD-20240501-ABC123 step=payments.capture"
        " backroom.text: captured"
    )
    assert datetime.fromisoformat(during.split(" ")[0]).utcoffset() is not None
    assert after.endswith("task=- id=- order=- step=- backroom.text: after the step")


def test_given_the_workers_line_about_a_task_when_formatted_then_it_names_the_task() -> None:
    celery_line = Captured(JsonFormatter(), "celery.worker.strategy")
    context = {"id": "7f3c", "name": "orders.place", "args": "()", "kwargs": "{}"}

    celery_line.logger.info("Task %(name)s[%(id)s] received", context)

    [line] = celery_line.objects()
    assert line["message"] == "Task orders.place[7f3c] received"
    assert (line["task_id"], line["task_name"]) == ("7f3c", "orders.place")


def test_given_a_task_running_when_it_logs_then_its_lines_carry_its_id_and_name(
    as_json: Captured, as_text: Captured
) -> None:
    app = Celery("test_logs", set_as_current=False)

    @app.task(name="orders.sweep", shared=False)  # type: ignore[untyped-decorator]
    def sweep() -> None:
        with log_context.scope(step="inventory.reserve", order="ORD-20240501-ABC123"):
            as_json.logger.info("re-driven")
            as_text.logger.info("re-driven")

    ran = sweep.apply(task_id="5e1d")

    assert ran.successful(), ran.traceback
    [line] = as_json.objects()
    assert (line["task_id"], line["task_name"], line["step"]) == (
        "5e1d",
        "orders.sweep",
        "inventory.reserve",
    )
    assert (
        "task=orders.sweep id=5e1d order=ORD-20240501-ABC123 step=inventory.reserve"
        in as_text.lines()[0]
    )


def a_step_that_fails() -> None:
    with log_context.scope(step="orders.place", order=None):
        log_context.bind(order="ORD-20240501-ABC123")  # as a handler does, with no unbind
        assert dict(log_context.current()) == {
            "step": "orders.place",
            "order": "ORD-20240501-ABC123",
        }
        raise RuntimeError("the step failed")


def test_given_a_step_scope_when_it_ends_then_what_was_bound_inside_is_gone() -> None:
    with pytest.raises(RuntimeError):
        a_step_that_fails()

    assert dict(log_context.current()) == {}


def test_given_no_step_running_when_a_service_binds_an_order_then_nothing_is_bound() -> None:
    # given: a service called by a script or a test, not by a step (no scope)
    assert log_context.bind(order="ORD-20240501-ABC123") is None

    # then: nothing outlives the call to name later lines
    assert dict(log_context.current()) == {}


@pytest.fixture
def root_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The root logger, Python's warnings and its uncaught-error hook as they were, after."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    yield
    logging.captureWarnings(False)


@pytest.mark.usefixtures("root_logger")
def test_given_json_settings_when_a_command_configures_logging_then_its_lines_are_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(Settings(log_format="json"))
    logging.getLogger("backroom.command").warning("this beat stops: %s", "the lock is lost")
    logging.getLogger("backroom.command").info("below the level: not shown")
    warnings.warn("a warning of Python's", UserWarning, stacklevel=1)

    stopped, warned = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert stopped["message"] == "this beat stops: the lock is lost"
    assert (warned["logger"], warned["level"]) == ("py.warnings", "WARNING")
    assert "UserWarning: a warning of Python's" in warned["message"]
