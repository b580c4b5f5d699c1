"""One active beat at a time: a PostgreSQL advisory lock held for the beat's whole life.

A second beat waits as a standby and takes over when the first one's connection goes away
(a crash or a stop releases the lock with the session).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

log = logging.getLogger("backroom.beat")
LOCK_KEY = 0x6261636B726F6F6D  # "backroom"


@contextmanager
def leadership(engine: Engine, *, poll_seconds: float = 2.0) -> Iterator[None]:
    """Block until this process holds the beat lock; hold it until the block exits."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        waited = False
        while not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}):
            if not waited:
                log.warning("another beat is active: standing by")
                waited = True
            time.sleep(poll_seconds)
        log.info("this beat is the active one")
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
