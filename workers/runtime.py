"""What a worker process needs, built once per process, after the fork (never before it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.db import make_engine, session_factory
from domain.handlers import JobPolicy, Ports, SweepPolicy
from domain.ports import SystemClock
from workers import embedded
from workers.adapters.mail import from_settings as mailer_from_settings
from workers.adapters.payments import SimulatedGateway
from workers.settings import Settings, load_settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    ports: Ports  # what the step handlers are given

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.ports.factory


_current: tuple[int, Runtime] | None = None


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    url = embedded.running_urls(Path(settings.data_dir)).database_url
    if url is None:
        raise RuntimeError(
            "BACKROOM_DATABASE_URL is not set and no embedded PostgreSQL runs in "
            f"{settings.data_dir}: start one with `backroom embedded start`"
        )
    return url


def sweep_policy(settings: Settings) -> SweepPolicy:
    return SweepPolicy(
        publish_after=timedelta(seconds=settings.sweep_publish_after),
        stuck_after=timedelta(seconds=settings.sweep_stuck_after),
        keep_runs=timedelta(days=settings.schedule_keep_days),
    )


def job_policy(settings: Settings) -> JobPolicy:
    return JobPolicy(
        zone=settings.zone,
        reservation_hold=timedelta(seconds=settings.reservation_hold),
        reports=Path(settings.data_dir) / "reports",
        report_recipients=tuple(settings.report_recipients),
    )


def build(settings: Settings) -> Runtime:
    engine = make_engine(
        database_url(settings), pool_size=2, pre_ping=False, prepare=settings.db_prepare
    )
    outbox = Path(settings.data_dir) / "mail"
    ports = Ports(
        factory=session_factory(engine),
        gateway=SimulatedGateway(engine),
        mailer=mailer_from_settings(settings, simulate=settings.mailer == "file", outbox=outbox),
        clock=SystemClock(),
        sweep=sweep_policy(settings),
        jobs=job_policy(settings),
    )
    return Runtime(settings=settings, engine=engine, ports=ports)


def runtime() -> Runtime:
    """This process's runtime; a forked child builds its own (engines must not cross a fork)."""
    global _current
    if _current is None or _current[0] != os.getpid():
        _current = (os.getpid(), build(load_settings()))
    return _current[1]


def close() -> None:
    global _current
    if _current is not None and _current[0] == os.getpid():
        _current[1].engine.dispose()
    _current = None
