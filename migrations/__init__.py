"""Alembic migrations for Backroom's schema; `config()` builds the Alembic configuration."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

HERE = Path(__file__).resolve().parent


def config(url: str | None = None) -> Config:
    """An Alembic `Config` pointing at this folder, optionally bound to a database URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
