"""Engines and sessions. The domain is handed these; it never reads settings itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from domain.sql import PREPARE_OPTION

APPLICATION_NAME = "backroom"


def to_url(url: str | URL) -> URL:
    """Accept `postgresql://` as well as `postgresql+psycopg2://`; always use psycopg2."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql+psycopg2")


def make_engine(
    url: str | URL,
    *,
    pool_size: int = 5,
    echo: bool = False,
    pre_ping: bool = True,
    prepare: bool = True,
) -> Engine:
    """One engine per process (create it after a fork, never before).

    `pool_size=0` gives an engine without a pool, for one-shot commands. Workers turn
    `pre_ping` off (a round trip per checkout): a dead connection fails its task, which is
    retried, and the pool drops every connection of a server that went away. `prepare=False`
    runs `domain.sql` statements unprepared (for a pooler in transaction mode).
    """
    pooling: dict[str, object] = (
        {"poolclass": NullPool}
        if pool_size == 0
        else {"pool_size": pool_size, "max_overflow": pool_size, "pool_recycle": 1800}
    )
    engine = create_engine(
        to_url(url),
        pool_pre_ping=pre_ping,
        echo=echo,
        connect_args={"application_name": APPLICATION_NAME},
        **pooling,
    )
    event.listen(engine, "connect", _set_utc)
    return engine if prepare else engine.execution_options(**{PREPARE_OPTION: False})


def _set_utc(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """`with unit_of_work(f) as s:` commits once at the end; an exception rolls back."""
    with factory() as session, session.begin():
        yield session


def database_away(error: DBAPIError) -> bool:
    """True when `error` is the database being away, not a refusal or a bug: unreachable, or a
    connection it dropped. psycopg2 reports a server that crashed mid-statement as a plain
    `DatabaseError` ("server closed the connection unexpectedly"), which the dialect reads as a
    disconnect (`connection_invalidated`)."""
    return bool(error.connection_invalidated) or isinstance(
        error, OperationalError | InterfaceError
    )
