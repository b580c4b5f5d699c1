"""Commands that run a long-lived process: `worker` and `flower` (the beat: `schedule`)."""

from __future__ import annotations

import argparse
import os

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


def cmd_flower(settings: Settings, args: argparse.Namespace) -> int:
    if settings.flower_password is None or not settings.flower_password.get_secret_value():
        fail("BACKROOM_FLOWER_PASSWORD must be set (not empty): Flower runs with authentication")
        return 2
    with served(settings):
        from workers.app import app

        os.environ.update(flower_environment(settings))
        app.start(["flower", f"--port={args.port}", f"--address={args.address}"])
    return 0


def flower_environment(settings: Settings) -> dict[str, str]:
    """Flower's options that hold a password, as the `FLOWER_*` variables Flower reads them
    from: a process's environment is readable by its own user only, its command line by every
    user of the machine (`ps`)."""
    password = settings.flower_password.get_secret_value() if settings.flower_password else ""
    env = {"FLOWER_BASIC_AUTH": f"{settings.flower_user}:{password}"}
    api = settings.flower_broker_api.get_secret_value() if settings.flower_broker_api else ""
    if api:
        env["FLOWER_BROKER_API"] = api  # RabbitMQ's management API, for the Broker page
    return env


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="start a Celery worker")
    worker.add_argument("-Q", "--queues", default=QUEUES)
    worker.add_argument("-c", "--concurrency", type=int, default=os.cpu_count() or 2)
    worker.add_argument("-n", "--hostname", default=None)
    worker.add_argument("-l", "--loglevel", default="INFO")
    worker.add_argument("-P", "--pool", default="prefork", help="prefork (default), solo, threads")
    worker.set_defaults(handler=cmd_worker)
    flower = sub.add_parser("flower", help="start Flower with basic authentication")
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="127.0.0.1")
    flower.set_defaults(handler=cmd_flower)
