"""The beat on a real PostgreSQL: every slot claimed once and sent once, by the one beat that
holds the lock; a standby that takes over; a leader that stops when its lock is gone; catch-up
by each entry's policy; pauses; and a slot's task that runs once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from domain import steps
from domain.contracts import Sweep
from domain.handlers import run_step
from domain.models import RunStatus
from domain.services import runs
from scheduler.beat import Beat
from scheduler.schedule import Entry, entries
from tests.e2e.harness import rows, scalar, truncate_everything, wait_for
from tests.integration.pipeline_helpers import MovableClock, Pipeline, fresh_pipeline
from workers.settings import load_settings

NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
# Advisory locks in this run's database only: other runs on the same server hold their own.
HERE = "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"


class Sent:
    """What a beat sent: (entry, slot), in order; it can be told to fail (a broker away)."""

    def __init__(self) -> None:
        self.claims: list[tuple[str, datetime]] = []
        self.failing = False

    def __call__(self, claim: runs.Claim) -> str:
        if self.failing:
            raise ConnectionError("broker away")
        self.claims.append((claim.entry, claim.slot))
        return f"task-{len(self.claims)}"


def _entries(zone: str = "UTC", sweep_interval: str = "10") -> list[Entry]:
    return entries(load_settings(timezone=zone, sweep_interval=sweep_interval))


@pytest.fixture
def clean(engine: Engine) -> Engine:
    truncate_everything(engine)
    return engine


def _start(beat: Beat) -> threading.Thread:
    thread = threading.Thread(target=beat.run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def beats() -> Iterator[list[Beat]]:
    started: list[Beat] = []
    yield started
    for beat in started:
        beat.stop.set()


FIRST = len(_entries())  # a new beat's first slots: one per entry, catching up


def _beat(engine: Engine, sent: Sent, clock: MovableClock, beats: list[Beat], **kw: object) -> Beat:
    beat = Beat(engine, _entries(), sent, clock=clock, tick_seconds=0.05, poll_seconds=0.05, **kw)  # type: ignore[arg-type]
    beats.append(beat)
    return beat


def _claimed(engine: Engine) -> list[tuple[str, datetime, str]]:
    found = rows(engine, "SELECT entry, slot, status FROM scheduled_runs ORDER BY entry, slot")
    return [(r.entry, r.slot, r.status) for r in found]


def test_given_a_leader_when_time_passes_then_each_slot_is_claimed_and_sent_once(
    clean: Engine, beats: list[Beat]
) -> None:
    clock, sent = MovableClock(NOON - timedelta(seconds=5)), Sent()
    thread = _start(_beat(clean, sent, clock, beats))
    wait_for(lambda: len(sent.claims) == FIRST, 10, "first slots sent")

    clock.moment = NOON + timedelta(seconds=65)
    wait_for(lambda: ("sweep", NOON + timedelta(seconds=60)) in sent.claims, 10, "a later sweep")
    beats[0].stop.set()
    thread.join(5)

    assert len(sent.claims) == len(set(sent.claims))
    assert sorted(sent.claims) == sorted((e, s) for e, s, _ in _claimed(clean))
    assert {status for *_, status in _claimed(clean)} == {"sent"}
    expiry = [slot for entry, slot in sent.claims if entry == "expire-reservations"]
    assert expiry == [NOON - timedelta(minutes=1), NOON + timedelta(minutes=1)]


def test_given_two_beats_then_the_standby_sends_nothing_until_the_leader_stops(
    clean: Engine, beats: list[Beat]
) -> None:
    clock = MovableClock(NOON)
    sent_a, sent_b = Sent(), Sent()
    leader = _beat(clean, sent_a, clock, beats)
    thread_a = _start(leader)
    wait_for(lambda: len(sent_a.claims) == FIRST, 10, "the leader's first slots")
    _start(_beat(clean, sent_b, clock, beats))

    clock.moment = NOON + timedelta(seconds=10)
    wait_for(lambda: len(sent_a.claims) == FIRST + 1, 10, "the leader's next sweep")
    assert sent_b.claims == []
    leader.stop.set()
    thread_a.join(5)
    clock.moment = NOON + timedelta(seconds=20)
    wait_for(lambda: len(sent_b.claims) == 1, 10, "the standby's first slot")

    assert sent_b.claims == [("sweep", NOON + timedelta(seconds=20))]
    assert not set(sent_a.claims) & set(sent_b.claims)


def test_given_the_leaders_connection_killed_then_it_stops_and_the_standby_takes_over(
    clean: Engine, beats: list[Beat]
) -> None:
    clock, sent_a, sent_b = MovableClock(NOON), Sent(), Sent()
    leader, failure = _beat(clean, sent_a, clock, beats), list[BaseException]()

    def lead() -> None:
        try:
            leader.run()
        except (runs.LeadershipLost, DBAPIError) as error:
            failure.append(error)

    thread = threading.Thread(target=lead, daemon=True)
    thread.start()
    wait_for(lambda: len(sent_a.claims) == FIRST, 10, "the leader's first slots")
    _start(_beat(clean, sent_b, clock, beats))
    holder = f"SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted {HERE}"
    scalar(clean, "SELECT pg_terminate_backend(:pid)", pid=scalar(clean, holder))

    thread.join(10)
    clock.moment = NOON + timedelta(seconds=10)
    wait_for(lambda: sent_b.claims, 10, "the standby to take over")

    assert failure, "the leader kept running without its lock"
    assert len(sent_a.claims) == FIRST
    assert sent_b.claims == [("sweep", NOON + timedelta(seconds=10))]


def test_given_a_beat_down_for_an_hour_then_each_entry_catches_up_once_by_its_policy(
    clean: Engine, beats: list[Beat]
) -> None:
    an_hour_ago = NOON - timedelta(hours=1)
    with clean.begin() as conn:
        for entry in _entries():  # the last slots a beat claimed and sent before it went down
            claim = runs.claim(conn, entry.name, entry.task, an_hour_ago)
            assert claim is not None
            runs.sent(conn, claim.id, "sent-before")
    clock, sent = MovableClock(NOON + timedelta(seconds=90)), Sent()

    _start(_beat(clean, sent, clock, beats))
    wait_for(lambda: len(sent.claims) >= 4, 10, "the catch-up")
    beats[0].stop.set()

    assert sorted(sent.claims) == [
        ("check-reorder", NOON),  # latest only: one, not one per missed hour
        ("expire-reservations", NOON + timedelta(minutes=1)),  # latest only, not 61 minutes
        ("rollup-today", NOON - timedelta(minutes=55)),  # 11:05, its only slot since; the
        # nightly rollup's next slot (00:15) is still to come
        ("sweep", NOON + timedelta(seconds=90)),  # the slot on time now; the 359 missed skipped
    ]


def test_given_a_paused_entry_then_its_slots_wait_from_the_next_tick_until_resumed(
    clean: Engine, beats: list[Beat]
) -> None:
    clock, sent = MovableClock(NOON), Sent()
    _start(_beat(clean, sent, clock, beats))
    wait_for(lambda: len(sent.claims) == FIRST, 10, "first slots")
    with clean.begin() as conn:
        runs.pause(conn, "expire-reservations", "testing")

    clock.moment = NOON + timedelta(minutes=1)
    wait_for(lambda: ("sweep", clock.moment) in sent.claims, 10, "the next sweep")
    paused_meanwhile = [c for c in sent.claims if c[0] == "expire-reservations"]
    with clean.begin() as conn:
        runs.resume(conn, "expire-reservations")
    wait_for(lambda: ("expire-reservations", clock.moment) in sent.claims, 10, "resumed")

    assert paused_meanwhile == [("expire-reservations", NOON)]


def test_given_a_claim_the_broker_never_got_then_it_is_sent_again_later_once(
    clean: Engine, beats: list[Beat]
) -> None:
    clock, sent = MovableClock(NOON), Sent()
    sent.failing = True
    _start(_beat(clean, sent, clock, beats))
    wait_for(lambda: scalar(clean, "SELECT count(*) FROM scheduled_runs") == FIRST, 10, "claims")
    assert scalar(clean, "SELECT count(*) FROM scheduled_runs WHERE sent_at IS NULL") == FIRST
    beats[0].stop.set()

    sent.failing = False
    _start(_beat(clean, sent, clock, beats))  # a beat starting sends what was never sent
    wait_for(lambda: len(sent.claims) == FIRST, 10, "the unsent claims sent")

    assert scalar(clean, "SELECT count(*) FROM scheduled_runs WHERE sent_at IS NULL") == 0
    assert len(set(sent.claims)) == FIRST


def test_given_a_slot_when_its_task_runs_twice_then_the_second_does_nothing(
    engine: Engine,
) -> None:
    pipeline: Pipeline = fresh_pipeline(engine)
    slot = Sweep(entry="sweep", slot=NOON)

    first = run_step(pipeline.ports, steps.SWEEP, slot).value()
    second = run_step(pipeline.ports, steps.SWEEP, slot).value()

    assert first == {
        "republished": 0,
        "redriven_orders": 0,
        "redriven_notifications": 0,
        "pruned_runs": 0,
    }
    assert second == f"sweep {NOON.isoformat()} already succeeded"
    [run] = rows(engine, "SELECT * FROM scheduled_runs")
    assert (run.entry, run.slot, run.status, run.attempts) == ("sweep", NOON, "succeeded", 1)
    assert run.started_at <= run.finished_at
    assert run.duration_ms is not None
    assert run.result == json.dumps(first)


def test_given_the_leader_then_it_holds_the_lock_on_the_connection_that_claims(
    clean: Engine, beats: list[Beat]
) -> None:
    clock, sent = MovableClock(NOON), Sent()
    _start(_beat(clean, sent, clock, beats))
    wait_for(lambda: len(sent.claims) == FIRST, 10, "first slots")

    with clean.connect() as conn, pytest.raises(runs.LeadershipLost):
        runs.fenced(conn, 0x6261636B726F6F6D)  # any other session: not the leader
    locks = f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted {HERE}"
    assert scalar(clean, locks) == 1


def test_given_finished_runs_older_than_the_keeping_when_swept_then_only_they_are_deleted(
    engine: Engine,
) -> None:
    pipeline = fresh_pipeline(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for entry, age, done in [("old", 20, True), ("old-open", 20, False), ("new", 1, True)]:
            claim = runs.claim(conn, entry, steps.SWEEP, now - timedelta(days=age))
            assert claim is not None
            if done:
                runs.start(conn, entry, steps.SWEEP, claim.slot)
                runs.finish(conn, entry, claim.slot, RunStatus.SUCCEEDED)

    swept = pipeline.sweep_once().value()

    assert swept["pruned_runs"] == 1
    left = rows(engine, "SELECT entry FROM scheduled_runs ORDER BY entry")
    assert [r.entry for r in left] == ["new", "old-open"]  # an unfinished run is kept
