"""A Celery app of no-op tasks, configured like Backroom's (JSON, acks late, prefetch 1, no
results, task events on), for the baseline in `bench/pipeline.py`: a chain of 4 per order,
the last one recording when it finished in Redis."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

app = Celery("bench_noop", broker=os.environ["BENCH_BROKER_URL"])
app.conf.update(
    accept_content=["json"],
    task_serializer="json",
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    task_default_queue="bench-noop",
    worker_send_task_events=True,  # as Backroom's workers do, for Flower
)
_done = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"].replace("redis+socket://", "unix://"))


@app.task(name="bench.noop")
def noop(*_: object) -> None:
    return None


@app.task(name="bench.done")
def done(key: str, run: str) -> None:
    _done.hset(f"bench:{run}", key, repr(time.time()))
