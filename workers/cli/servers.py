"""The servers a command talks to: the configured ones, else embedded ones started for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workers import embedded
from workers.settings import Settings


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database URL, or the embedded server's (started if need be)."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    with embedded.embedded_servers(Path(settings.data_dir), redis=False) as servers:
        assert servers.database_url is not None
        yield servers.database_url


@contextmanager
def served(settings: Settings) -> Iterator[embedded.EmbeddedServers]:
    """Resolve the URLs (embedding what is not configured) and export them for the app."""
    with embedded.resolve_urls(settings) as urls:
        for name, value in vars(urls).items():
            if value is not None:
                os.environ[f"BACKROOM_{name.upper()}"] = value
        yield urls
