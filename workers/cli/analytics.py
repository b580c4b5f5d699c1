"""`backroom analytics rebuild --from DATE --to DATE`: the daily sales of a range of days written
again from the orders, as the scheduled rollup writes them (`domain.services.analytics`).

Each shop-local day of the range (both ends included) is rolled up in its own transaction,
oldest first: a rebuild stopped half way keeps the days it finished, and a day is never seen
half written. A progress bar on stderr follows the days; each day's rows go to stdout.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from domain.db import make_engine, session_factory, unit_of_work
from domain.services import analytics
from workers.cli.output import fail, out, progress_bar
from workers.cli.servers import database
from workers.settings import Settings


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Roll up each day from `--from` to `--to`, one transaction per day."""
    first, last = args.first, args.last
    if last < first:
        fail(f"analytics rebuild: --to {last} is before --from {first}")
        return 2
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    with database(settings) as url:
        engine = make_engine(url, pool_size=0)
        try:
            written = _rebuild(session_factory(engine), days, settings)
        finally:
            engine.dispose()
    out(f"rebuilt {len(days)} day(s) from {first} to {last}: {written} row(s) written")
    return 0


def _rebuild(factory: sessionmaker[Session], days: list[date], settings: Settings) -> int:
    """Roll up `days` in the shop's zone, each committed on its own; the rows written."""
    written = 0
    with progress_bar("days", min_total=2) as progress:
        for done, day in enumerate(days, start=1):
            with unit_of_work(factory) as session:
                rolled = analytics.rollup(session, day, settings.zone)
            written += rolled.written
            out(f"{day}  {rolled.written} row(s) written, {rolled.deleted} deleted")
            progress(done, len(days))
    return written


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    analytics_parser = sub.add_parser("analytics", help="daily sales rollups")
    actions = analytics_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild = actions.add_parser(
        "rebuild", help="roll up each shop-local day of a range again (both ends included)"
    )
    rebuild.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    rebuild.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    rebuild.set_defaults(handler=cmd_rebuild)
