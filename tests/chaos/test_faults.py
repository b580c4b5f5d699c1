"""300 orders in flight while the outside world fails: the payment provider does not answer 30%
of calls and the publisher fails 20% of its sends with errors that are not kombu's (both from
a worker entry point of the test's own, `tests.chaos.faulty_worker`); the mail server is down
for a minute. Each ends with the shared invariants (`tests.chaos.invariants`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.chaos import faulty_worker
from tests.chaos.workload import Run
from tests.smtp_server import SmtpServer

PAYMENT_FAULTS = 0.3
PUBLISH_FAULTS = 0.2
OUTAGE = 60.0  # seconds the mail server is down


def _faults(log: Path, since: float) -> tuple[Counter[str], str]:
    """The faults the workers logged: how many of each kind and when (s since `since`), and
    the most charges of one payment that failed (each failed charge is one fault: an
    authorize that fails is not followed by a capture)."""
    kinds: Counter[str] = Counter()
    times: dict[str, list[float]] = {}
    failed_charges: Counter[str] = Counter()
    for line in log.read_text().splitlines() if log.exists() else []:
        at, kind, detail = line.split(" ", 2)
        kinds[kind] += 1
        times.setdefault(kind, []).append(float(at) - since)
        if kind in ("authorize", "capture"):
            failed_charges[detail] += 1
    shown = "; ".join(
        f"{kind} {kinds[kind]} (+{min(times[kind]):.1f}s to +{max(times[kind]):.1f}s)"
        for kind in sorted(kinds)
    )
    worst = max(failed_charges.values(), default=0)
    return kinds, f"{shown or 'none'}; at most {worst} failed charges of one payment"


def test_given_orders_when_the_provider_fails_30_percent_and_publishing_20_then_books_balance(
    shared_run: Callable[[str], Run], smtp_server: SmtpServer, tmp_path: Path
) -> None:
    log = tmp_path / "faults.log"
    run = shared_run("faults")
    run.procs.env.update(
        {
            faulty_worker.PAYMENT_FAULTS: str(PAYMENT_FAULTS),
            faulty_worker.PUBLISH_FAULTS: str(PUBLISH_FAULTS),
            faulty_worker.SEED: "7",
            faulty_worker.FAULT_LOG: str(log),
        }
    )
    since = time.time()
    try:
        run.start(lambda: run.workers(module="tests.chaos.faulty_worker"))
        run.settle(300)
    finally:
        run.stop()
    kinds, shown = _faults(log, since)
    run.timeline.note(f"faults injected: {shown}")
    run.check()
    assert set(kinds) == set(faulty_worker.FAULTS)  # every kind of fault did happen


def test_given_orders_in_flight_when_the_mail_server_is_down_a_minute_then_books_balance(
    shared_run: Callable[[str], Run], smtp_server: SmtpServer, tmp_path: Path
) -> None:
    run = shared_run("smtp")
    try:
        run.start()
        run.when_final(0.1)
        before = len(smtp_server.messages)
        smtp_server.stop()
        run.timeline.note(f"mail server stopped (it had taken {before} messages)")
        time.sleep(OUTAGE)  # the fault lasts a minute: a duration, not a condition to await
        smtp_server.start()
        run.timeline.note(f"mail server started again; {run.final()} orders final")
        run.settle(240)
    finally:
        run.stop()
    run.check()
