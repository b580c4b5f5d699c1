"""The one Celery app: configured from settings, JSON only, acks late, prefetch 1.

`celery -A workers.app worker` and `backroom worker` both use it. With no broker configured it
points at the embedded Redis under the data folder (`backroom embedded start`).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from celery import Celery
from celery.app.log import TaskFormatter
from celery.exceptions import CPendingDeprecationWarning
from celery.signals import after_setup_logger

from workers import embedded, routing, transport
from workers.settings import Settings, load_settings

# One line per event; inside a task every line (ours and the domain's) names the task and its id.
LOG_FORMAT = (
    "%(asctime)s %(levelname)s [%(processName)s] task=%(task_name)s id=%(task_id)s "
    "%(name)s: %(message)s"
)

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
        worker_log_format=LOG_FORMAT,
        worker_task_log_format=LOG_FORMAT,
    )
    return app


# Celery warns at every connection loss that it will cancel running tasks by default in 6.0;
# Backroom chose not to (see `create_app`) and says so explicitly.
warnings.filterwarnings(
    "ignore",
    message=r"\s*In Celery 5\.1 we introduced an optional breaking change",
    category=CPendingDeprecationWarning,
)


@after_setup_logger.connect
def _task_aware_lines(logger: logging.Logger, **_: object) -> None:
    """Celery only stamps task id and name on its task loggers; stamp them on every line."""
    for handler in logger.handlers:
        handler.setFormatter(TaskFormatter(LOG_FORMAT, use_color=False))


app = create_app(load_settings())
