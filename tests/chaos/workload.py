"""The chaos tests' shop and load, and a run of one of them.

`Shop.build`: four products and 300 orders of a fixed mix, each with the fate its payment token
and the stock decide. 30 pay with `tok_decline` (cancelled, payment failed), 60 want one of the
40 units of CHAOS-SCARCE (20 of them are cancelled out of stock: whichever lose the race), the
rest ship; 15 pay with `tok_slow` (2 s at the provider, so that a fault finds captures
running) and 10 with `tok_flaky` (the provider fails twice before it answers).

`Run` starts real processes (two `backroom worker`s, or a test's own entry point, and a
`backroom beat`), places the orders, waits for progress before each fault, notes each fault
with its time, waits for the pipeline to settle (every order final, no email pending) and
ends with the shared invariants (`tests.chaos.invariants.check`).
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests import factories
from tests.chaos import invariants
from tests.e2e.harness import Broker, Processes, rows, scalar, wait_for, wait_for_workers
from tests.e2e.test_pipeline import order

if TYPE_CHECKING:
    from tests.smtp_server import SmtpServer

ORDERS = 300
PRICES = {"CHAOS-A": 1250, "CHAOS-B": 2999, "CHAOS-C": 499, "CHAOS-SCARCE": 7500}
STOCK = {"CHAOS-A": 1000, "CHAOS-B": 1000, "CHAOS-C": 1000, "CHAOS-SCARCE": 40}
# What every chaos test runs its workers with, short so that a run takes minutes: a sweep every
# second that resends a step not run 10 s after it was sent and re-drives an order that has not
# moved for 4 s; a customer email the mail server could not take is tried again after 2 s, the
# wait doubling up to 15 s (a minute's outage takes about 7 of its 12 attempts). And Redis
# gives back a message a worker took and never settled (it was SIGKILLed) after 120 s, not the
# default hour: a public task such as `orders.place` has no outbox row for the sweep to resend,
# so until then its order waits. (120 s is still longer than any retry's countdown, at most
# 60 s, as DESIGN.md section 4 asks.)
SETTINGS = {
    "BACKROOM_SWEEP_INTERVAL": "1",
    "BACKROOM_SWEEP_STUCK_AFTER": "4",
    "BACKROOM_SWEEP_PUBLISH_AFTER": "10",
    "BACKROOM_MAIL_RETRY_AFTER": "2",
    "BACKROOM_MAIL_RETRY_MAX": "15",
    "BACKROOM_VISIBILITY_TIMEOUT": "120",
}


def _token(n: int) -> str:
    if n % 10 == 3:
        return "tok_decline"
    if n % 20 == 9:
        return "tok_slow"
    if n % 30 == 17:
        return "tok_flaky"
    return "tok_ok"


def _lines(n: int) -> dict[str, int]:
    lines = {("CHAOS_A", "CHAOS_B", "CHAOS_C")[n % 3]: 1 + n % 3}
    if n % 5 == 1:  # never a declined order: 60 orders for the 40 scarce units
        lines["CHAOS_SCARCE"] = 1
    return lines


def _fates(n: int) -> frozenset[str]:
    if _token(n) == "tok_decline":
        return frozenset({invariants.DECLINED})
    if "CHAOS_SCARCE" in _lines(n):
        return frozenset({invariants.SHIPPED, invariants.UNPAID})  # the race decides
    return frozenset({invariants.SHIPPED})


@dataclass(frozen=True)
class Shop:
    """The stock a test starts with, its orders by idempotency key, and what they come to."""

    stock: dict[str, int]
    orders: dict[str, dict[str, Any]]
    fates: dict[str, frozenset[str]]  # by key: the fates the order may come to
    outcome: Counter[str]  # how many orders come to each fate

    @classmethod
    def build(cls, prefix: str, count: int = ORDERS) -> Shop:
        keys = [f"{prefix}-{n:03d}" for n in range(count)]
        wanting_scarce = sum("CHAOS_SCARCE" in _lines(n) for n in range(count))
        declined = sum(_token(n) == "tok_decline" for n in range(count))
        out_of_stock = max(0, wanting_scarce - STOCK["CHAOS-SCARCE"])
        return cls(
            stock=dict(STOCK),
            orders={key: order(key, _token(n), **_lines(n)) for n, key in enumerate(keys)},
            fates={key: _fates(n) for n, key in enumerate(keys)},
            outcome=Counter(
                {
                    invariants.SHIPPED: count - declined - out_of_stock,
                    invariants.DECLINED: declined,
                    invariants.UNPAID: out_of_stock,
                }
            ),
        )

    def tokens(self) -> Counter[str]:
        return Counter(payload["payment_token"] for payload in self.orders.values())

    def put_on_shelves(self, engine: Engine) -> None:
        """The products, with their stock, committed for the workers to see."""
        with Session(engine) as s, s.begin():
            owner = factories.vendor(s)
            for sku, units in self.stock.items():
                factories.product(s, sku=sku, on_hand=units, vendor=owner, base_price=PRICES[sku])


class Timeline:
    """What a test did, each line with its time since the start, printed as it happens."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def note(self, what: str) -> None:
        self.say(f"+{self.elapsed():6.1f}s {what}")

    def say(self, text: str) -> None:
        for line in text.splitlines():
            print(f"[{self.name}] {line}", flush=True)


@dataclass
class Run:
    """One chaos test's run: its processes, its shop, its timeline."""

    name: str
    engine: Engine
    broker: Broker
    smtp: SmtpServer
    procs: Processes
    shop: Shop = field(init=False)
    timeline: Timeline = field(init=False)
    beats: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    beat_exits: list[int] = field(default_factory=list)  # exit codes of beats started again

    def __post_init__(self) -> None:
        self.shop = Shop.build(self.name)
        self.timeline = Timeline(self.name)
        self.procs.env.update(SETTINGS)

    # --- processes ------------------------------------------------------------------------------

    def workers(self, count: int = 2, **options: Any) -> list[subprocess.Popen[bytes]]:
        """`count` workers of 2 processes each (`options`: `Processes.worker`'s), answering."""
        started = [self.procs.worker(f"w{n}", concurrency=2, **options) for n in range(count)]
        wait_for_workers(self.broker, count, self.procs)
        return started

    def beat(self, name: str = "beat") -> None:
        self.beats[name] = self.procs.beat(name)

    def tend(self) -> None:
        """Start again a beat that exited, as its supervisor would (a beat that loses its
        database exits with 3 for that). Every wait of the run does this as it polls."""
        for name, proc in list(self.beats.items()):
            if proc.poll() is not None:
                self.beat_exits.append(proc.returncode)
                self.timeline.note(f"beat {name!r} exited with {proc.returncode}: started again")
                self.beats[name] = self.procs.beat(name)

    def _tended(self, condition: Callable[[], bool]) -> Callable[[], bool]:
        def polled() -> bool:
            self.tend()
            return condition()

        return polled

    # --- load -----------------------------------------------------------------------------------

    def place(self, keys: list[str] | None = None) -> int:
        """Send `orders.place` for these orders (all by default) on a fresh client connection,
        as the outside system would; how many were sent."""
        chosen = list(self.shop.orders) if keys is None else keys
        client = self.broker.client()
        try:
            for key in chosen:
                client.place_order(**self.shop.orders[key])
        finally:
            client.close()
        return len(chosen)

    def unplaced(self) -> list[str]:
        """Orders sent but not in the database: an outside system that has no order number for
        them yet sends them again under the same idempotency key."""
        found = {row[0] for row in rows(self.engine, "SELECT idempotency_key FROM orders")}
        return [key for key in self.shop.orders if key not in found]

    def start(self, workers: Callable[[], object] | None = None) -> None:
        """The shop stocked, the workers (2 `backroom worker`s by default) and a beat started,
        every order placed."""
        self.shop.put_on_shelves(self.engine)
        (workers or self.workers)()
        self.beat()
        tokens = ", ".join(f"{n} {token}" for token, n in sorted(self.shop.tokens().items()))
        self.timeline.note(f"placing {len(self.shop.orders)} orders ({tokens})")
        self.place()
        self.timeline.note("all orders sent")

    # --- progress -------------------------------------------------------------------------------

    def final(self) -> int:
        return int(scalar(self.engine, f"SELECT count(*) FROM orders WHERE status IN {_FINAL}"))

    def in_flight(self) -> str:
        """Orders placed and not final, by status."""
        by_status = rows(
            self.engine,
            f"SELECT status, count(*) FROM orders WHERE status NOT IN {_FINAL}"
            " GROUP BY 1 ORDER BY 1",
        )
        return ", ".join(f"{status} {n}" for status, n in by_status) or "none"

    def when_final(self, share: float, timeout: float = 120) -> None:
        """Wait until `share` of the orders are final, and check some are still in flight."""
        target = int(share * len(self.shop.orders))
        reached = self._tended(lambda: self.final() >= target)
        wait_for(reached, timeout, f"{target} orders final", self.logs)
        final = self.final()
        assert final < len(self.shop.orders), "every order was final before the fault"
        self.timeline.note(f"{final} orders final; in flight: {self.in_flight()}")

    def settled(self) -> bool:
        """Every order placed and final, and no email pending (sent, or failed for good)."""
        placed, final, pending = rows(
            self.engine,
            f"SELECT count(*), count(*) FILTER (WHERE status IN {_FINAL}),"
            " (SELECT count(*) FROM notifications WHERE status = 'pending') FROM orders",
        )[0]
        return bool(placed == final == len(self.shop.orders) and pending == 0)

    def settle(self, timeout: float) -> None:
        """Wait (up to `timeout` s) for every order to be final and no email to be pending."""
        what = "every order final and every email sent"
        wait_for(self._tended(self.settled), timeout, what, self.stuck)
        self.timeline.note("every order final, no email pending")

    def stuck(self) -> str:
        """What a run that did not settle left behind, and the processes' logs."""
        try:
            books = invariants.describe(self.engine, self.smtp, self.shop)
        except Exception as error:  # the database may be what is missing
            books = f"(could not read the books: {error})"
        return f"{books}\n{self.logs()}"

    def logs(self) -> str:
        return self.procs.logs()

    # --- the end --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every process (warm: running tasks finish), so that nothing is sent after the
        books are read."""
        self.procs.stop_all()
        self.timeline.note("processes stopped")

    def check(self, killed: int = 0) -> None:
        """The books (database and mail server) checked and printed, with the wall time;
        `killed`: how many worker processes the test SIGKILLed."""
        try:
            invariants.check(self.engine, self.smtp, self.shop, self.timeline.say, killed)
        finally:
            self.timeline.say(f"wall time {self.timeline.elapsed():.1f} s")


_FINAL = "('shipped', 'cancelled', 'refunded')"
