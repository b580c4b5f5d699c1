"""What a worker process needs, built once per process, after the fork (never before it)."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.db import make_engine, session_factory
from domain.handlers import JobPolicy, MailPolicy, Ports, SweepPolicy
from domain.ports import SystemClock
from domain.secrets import Sealer, SecretKeyError, new_key
from workers import embedded
from workers.adapters.mail import from_settings as mailer_from_settings
from workers.adapters.payments import SimulatedGateway
from workers.settings import Settings, load_settings

KEY_FILE = "secret.key"  # in the data folder: the key used when none is configured
log = logging.getLogger("backroom.secrets")


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


def mail_policy(settings: Settings) -> MailPolicy:
    return MailPolicy(
        retry_after=timedelta(seconds=settings.mail_retry_after),
        retry_max=timedelta(seconds=settings.mail_retry_max),
        attempts=settings.mail_attempts,
    )


def sealer(settings: Settings) -> Sealer:
    """What seals payment tokens: the configured keys (`BACKROOM_SECRET_KEYS`), else this
    machine's own key in `<data_dir>/secret.key`, made the first time it is needed. That one
    suits the demo and a developer's machine; several machines must share configured keys."""
    if settings.secret_keys:
        return Sealer([key.get_secret_value() for key in settings.secret_keys])
    path = Path(settings.data_dir) / KEY_FILE
    try:
        return Sealer([local_key(path)])
    except SecretKeyError as error:
        raise SecretKeyError(f"{path}: {error}") from None


def local_key(path: Path) -> str:
    """The key kept in `path`; if there is none, a new one is written there (mode 0600). Two
    processes starting at once write a file each and link it into place: the first link wins,
    and both read the winner's key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(new_key() + "\n")
        try:
            os.link(draft, path)
            log.warning(
                "BACKROOM_SECRET_KEYS is not set: payment tokens are sealed with a key made for"
                " this machine only, in %s. Production must set BACKROOM_SECRET_KEYS (the same"
                " on every machine; `backroom secret-key` prints a new key).",
                path,
            )
        except FileExistsError:
            pass  # another process made it first: its key is the one
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()


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
        mail=mail_policy(settings),
        sealer=sealer(settings),
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
