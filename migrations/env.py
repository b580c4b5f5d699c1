"""Alembic environment: the URL comes from the caller, else from BACKROOM_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from domain.db import make_engine
from domain.models import Base

target_metadata = Base.metadata
config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from workers.settings import load_settings

    configured = load_settings().database_url
    if configured is None:
        raise SystemExit(
            "BACKROOM_DATABASE_URL is not set: run `backroom db upgrade`, which uses the "
            "embedded PostgreSQL when no server is configured."
        )
    return configured


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        transaction_per_migration=True,
    )


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), pool_size=0)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
