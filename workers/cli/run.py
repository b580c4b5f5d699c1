"""Commands that run a long-lived process: `worker`, `beat` and `flower`."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from domain.db import make_engine
from workers.cli.output import fail
from workers.cli.servers import served
from workers.settings import Settings

QUEUES = "orders,inventory,payments,notifications,reports"


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    with served(settings):
        from workers.app import app

        argv = ["worker", "-Q", args.queues, "-c", str(args.concurrency), "-l", args.loglevel]
        argv += ["-P", args.pool]
        if args.hostname:
            argv += ["-n", args.hostname]
        app.worker_main(argv)
    return 0


def cmd_beat(settings: Settings, args: argparse.Namespace) -> int:
    from scheduler.leader import leadership
    from scheduler.schedule import beat_schedule

    logging.getLogger("backroom.beat").setLevel(logging.INFO)  # say who is active, who waits
    with served(settings) as urls:
        from workers.app import app

        assert urls.database_url is not None
        engine = make_engine(urls.database_url, pool_size=0)
        with leadership(engine):
            app.conf.beat_schedule = beat_schedule(settings)
            schedule = Path(settings.data_dir) / "celerybeat-schedule"
            schedule.parent.mkdir(parents=True, exist_ok=True)
            app.Beat(schedule=str(schedule), loglevel=args.loglevel).run()
        engine.dispose()
    return 0


def cmd_flower(settings: Settings, args: argparse.Namespace) -> int:
    if settings.flower_password is None or not settings.flower_password.get_secret_value():
        fail("BACKROOM_FLOWER_PASSWORD must be set (not empty): Flower runs with authentication")
        return 2
    with served(settings):
        from workers.app import app

        os.environ["FLOWER_BASIC_AUTH"] = (
            f"{settings.flower_user}:{settings.flower_password.get_secret_value()}"
        )
        app.start(["flower", f"--port={args.port}", f"--address={args.address}"])
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="start a Celery worker")
    worker.add_argument("-Q", "--queues", default=QUEUES)
    worker.add_argument("-c", "--concurrency", type=int, default=os.cpu_count() or 2)
    worker.add_argument("-n", "--hostname", default=None)
    worker.add_argument("-l", "--loglevel", default="INFO")
    worker.add_argument("-P", "--pool", default="prefork", help="prefork (default), solo, threads")
    worker.set_defaults(handler=cmd_worker)
    beat = sub.add_parser("beat", help="start Celery beat (one active at a time)")
    beat.add_argument("-l", "--loglevel", default="INFO")
    beat.set_defaults(handler=cmd_beat)
    flower = sub.add_parser("flower", help="start Flower with basic authentication")
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="127.0.0.1")
    flower.set_defaults(handler=cmd_flower)
