"""The one Celery app: configured from settings, JSON only, acks late, prefetch 1.

`celery -A workers.app worker` and `backroom worker` both use it. With no broker configured it
points at the embedded Redis under the data folder (`backroom embedded start`).
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery

from workers import embedded, routing
from workers.settings import Settings, load_settings

TASK_MODULES = [
    "tasks.orders",
    "tasks.inventory",
    "tasks.payments",
    "tasks.notifications",
]


def _broker(settings: Settings) -> str:
    if settings.broker_url:
        return settings.broker_url
    return f"redis+socket://{embedded.redis_socket(Path(settings.data_dir))}"


def _transport_options(settings: Settings, broker: str) -> dict[str, object]:
    options: dict[str, object] = {"visibility_timeout": settings.visibility_timeout}
    if settings.broker_key_prefix and broker.startswith("redis"):
        options["global_keyprefix"] = settings.broker_key_prefix
    return options


def create_app(settings: Settings) -> Celery:
    app = Celery("backroom", include=TASK_MODULES, task_cls="workers.base:BackroomTask")
    broker = _broker(settings)
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
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_ignore_result=True,
        result_expires=24 * 3600,
        task_time_limit=60,
        task_soft_time_limit=45,
        task_queues=routing.declare(),
        task_default_queue="orders",
        task_routes=(routing.route,),
        worker_send_task_events=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings, broker),
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout},
        enable_utc=True,
        timezone="UTC",
        worker_task_log_format=(
            "%(asctime)s %(levelname)s [%(processName)s] task=%(task_name)s "
            "id=%(task_id)s %(message)s"
        ),
    )
    return app


app = create_app(load_settings())
