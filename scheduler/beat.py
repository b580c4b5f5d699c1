"""Backroom's beat: every slot of every entry claimed once, sent once, by one active beat.

Each tick the leader, on the connection that holds the leadership lock:
1. proves it still holds the lock, reads the paused entries and the claimed slots not sent yet
   (a beat that died between claim and send left them), and sends those;
2. for each entry not paused, asks which slots are due (by the entry's catch-up policy, after
   the last slot claimed), and for each claims it: a transaction that proves the lock again
   and inserts the slot's row (UNIQUE (entry, slot): a slot claimed before is not claimed
   again); after that commit it sends the task with the slot, then marks the row sent.

Each turn of the loop beats the heart (`active` before each tick; `standby` or `waiting` at each
poll while it waits for the lock, see `scheduler.leader`): a loop that stops turning (a tick
that hangs, a frozen process) stops the beats, which a health check sees.

A leader whose lock or connection is gone (database restart, connection killed,
`idle_session_timeout`) stops at once: `LeadershipLost` or the database error leaves `run`,
and `backroom beat` exits non-zero so its supervisor starts it again, as a standby.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from domain.ports import Clock, SystemClock
from domain.services import runs
from scheduler.leader import LOCK_KEY, Heartbeat, leadership, no_heartbeat
from scheduler.schedule import Entry

log = logging.getLogger("backroom.beat")
Send = Callable[[runs.Claim], str]  # sends a claimed slot's task; the task id
RESEND_AFTER = timedelta(seconds=10)  # a claim not sent by then is sent by the next tick


class Beat:
    """The scheduler loop. `send` publishes a claimed slot's task (the composition root gives
    it the Celery app); `heartbeat` is told the beat's role at each turn of the loop; `stop`
    ends the loop at the next tick."""

    def __init__(
        self,
        engine: Engine,
        entries: Sequence[Entry],
        send: Send,
        *,
        clock: Clock | None = None,
        tick_seconds: float = 1.0,
        poll_seconds: float = 2.0,
        heartbeat: Heartbeat = no_heartbeat,
    ) -> None:
        self.engine, self.entries, self.send = engine, list(entries), send
        self.heartbeat = heartbeat
        self.clock = clock or SystemClock()
        self.tick_seconds, self.poll_seconds = tick_seconds, poll_seconds
        self.stop = threading.Event()
        self.last: dict[str, datetime] = {}

    def run(self) -> None:
        """Stand by until this beat leads, then lead until stopped (or the lock is lost)."""
        with leadership(
            self.engine, self.stop, poll_seconds=self.poll_seconds, heartbeat=self.heartbeat
        ) as conn:
            with conn.begin():
                runs.fenced(conn, LOCK_KEY)
                self.last = runs.last_slots(conn)
            self._send_unsent(conn, older_than=timedelta(0))
            while not self.stop.is_set():
                self.heartbeat("active")
                self.tick(conn)
                self.stop.wait(self.tick_seconds)

    def tick(self, conn: Connection) -> None:
        """One round: unsent claims sent, then every due slot of every running entry."""
        paused = self._send_unsent(conn, older_than=RESEND_AFTER)
        now = self.clock.now()
        for entry in self.entries:
            if entry.name not in paused:
                for slot in entry.due(self.last.get(entry.name), now):
                    self._claim_and_send(conn, entry, slot)

    def _send_unsent(self, conn: Connection, *, older_than: timedelta) -> set[str]:
        """Send claims a send never reached; the paused entries (read in the same proof)."""
        with conn.begin():
            runs.fenced(conn, LOCK_KEY)
            paused = runs.paused(conn)
            waiting = runs.unsent(conn, older_than)
        for claim in waiting:
            self._send(conn, claim)
        return paused

    def _claim_and_send(self, conn: Connection, entry: Entry, slot: datetime) -> None:
        with conn.begin():
            runs.fenced(conn, LOCK_KEY)
            claim = runs.claim(conn, entry.name, entry.task, slot)
        self.last[entry.name] = slot
        if claim is not None:
            self._send(conn, claim)

    def _send(self, conn: Connection, claim: runs.Claim) -> None:
        try:
            task_id = self.send(claim)
        except Exception:  # the broker is away: the claim stays unsent; a later tick sends it
            log.exception("could not send %s %s; it is sent again later", claim.entry, claim.slot)
            return
        with conn.begin():
            runs.sent(conn, claim.id, task_id)
        log.info("sent %s for slot %s (task %s)", claim.entry, claim.slot.isoformat(), task_id)
