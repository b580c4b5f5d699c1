"""The one Celery app: configured from settings, JSON only, acks late, prefetch 1.

`celery -A workers.app worker` and `backroom worker` both use it. With no broker configured it
points at the embedded Redis under the data folder (`backroom embedded start`).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import CPendingDeprecationWarning
from celery.signals import after_setup_logger, after_setup_task_logger, celeryd_after_setup
from celery.utils.log import get_multiprocessing_logger

from workers import embedded, logs, routing, transport
from workers.settings import Settings, load_settings

TASK_MODULES = [
    "tasks.orders",
    "tasks.inventory",
    "tasks.payments",
    "tasks.notifications",
    "tasks.analytics",
    "tasks.reports",
]


def _broker(settings: Settings) -> str:
    if settings.broker_url:
        return settings.broker_url
    return f"redis+socket://{embedded.redis_socket(Path(settings.data_dir))}"


def transport_options(settings: Settings, broker: str) -> dict[str, object]:
    options: dict[str, object] = {"visibility_timeout": settings.visibility_timeout}
    if settings.broker_key_prefix and broker.startswith("redis"):
        options["global_keyprefix"] = settings.broker_key_prefix
    return options


def create_app(settings: Settings) -> Celery:
    app = Celery("backroom", include=TASK_MODULES, task_cls="workers.base:BackroomTask")
    broker = _broker(settings)
    if broker.split("://")[0].split("+")[0] in transport.SCHEMES:
        transport.install()  # one Redis command client per channel, not one per command
    app.conf.update(
        broker_url=broker,
        result_backend=settings.result_backend or (broker if broker.startswith("redis") else None),
        accept_content=["json"],
        task_serializer="json",
        result_serializer="json",
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        # A step still running when the broker connection drops is left to finish, not killed:
        # killing it could cut a customer email between the mail server's acceptance and the
        # mark that records it (it would go out again). Its acknowledgement is skipped
        # (`workers.request`), the broker delivers the message again, and the step's
        # idempotency makes the repeat a no-op.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_ignore_result=True,
        result_expires=24 * 3600,
        task_time_limit=60,
        task_soft_time_limit=45,
        task_queues=routing.declare(),
        task_default_queue="orders",
        task_routes=(routing.route,),
        worker_send_task_events=True,
        worker_consumer="workers.undecodable:KeepingConsumer",  # keeps messages that are not tasks
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options(settings, broker),
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout},
        enable_utc=True,
        timezone="UTC",
        # Backroom's formatter replaces Celery's on every handler (see the signals below)
        worker_log_format=logs.PLAIN_FORMAT,
        worker_task_log_format=logs.PLAIN_FORMAT,
    )
    return app


# Celery warns at every connection loss that it will cancel running tasks by default in 6.0;
# Backroom chose not to (see `create_app`) and says so explicitly.
warnings.filterwarnings(
    "ignore",
    message=r"\s*In Celery 5\.1 we introduced an optional breaking change",
    category=CPendingDeprecationWarning,
)


# The worker's lines are Backroom's (`workers.logs`, text or JSON as `BACKROOM_LOG_FORMAT`
# says): on the handlers Celery sets up for the root logger, billiard's (a pool process's
# death) and the task logger; in JSON the start-up banner is one line like the others.
@after_setup_logger.connect
def _backroom_lines(logger: logging.Logger, **_: object) -> None:
    log_format = load_settings().log_format
    logs.install(logger, log_format)
    pool_logger = get_multiprocessing_logger()
    if pool_logger is not None:
        logs.install(pool_logger, log_format)
    logs.capture_strays(log_format)


@after_setup_task_logger.connect
def _backroom_task_lines(logger: logging.Logger, **_: object) -> None:
    logs.install(logger, load_settings().log_format)


@celeryd_after_setup.connect
def _banner_in_one_line(instance: Any, **_: object) -> None:
    if load_settings().log_format == "json":
        banner = instance.startup_info(artlines=False).strip()
        logging.getLogger("celery.apps.worker").info("starting\n%s", banner)
        instance.quiet = True  # Celery prints no banner of its own


app = create_app(load_settings())
