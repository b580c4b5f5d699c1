"""`backroom report nightly [--date YYYY-MM-DD]`: a day's nightly report built again, as the
scheduled `reports.nightly` builds it (`domain.handlers.jobs.build_report`): the changed days
of its chart rolled up first, then its HTML page and CSV files saved under
`<data dir>/reports/YYYY-MM-DD/`, replacing what was there. Nothing is emailed (the scheduled
run does that; `backroom schedule run nightly-report` runs a slot by hand). The folder's path
goes to stdout, last.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

from domain.db import make_engine, session_factory, unit_of_work
from domain.handlers.jobs import build_report
from workers.cli.output import fail, out
from workers.cli.servers import database
from workers.runtime import job_policy
from workers.settings import Settings


def cmd_nightly(settings: Settings, args: argparse.Namespace) -> int:
    """Build the report of `--date` (default: yesterday in the shop's zone)."""
    today = datetime.now(UTC).astimezone(settings.zone).date()
    day: date = args.date or today - timedelta(days=1)
    if day > today:
        fail(f"report nightly: {day} has not begun yet in {settings.timezone} (today is {today})")
        return 2
    with database(settings) as url:
        engine = make_engine(url, pool_size=0)
        try:
            with unit_of_work(session_factory(engine)) as session:
                built = build_report(session, job_policy(settings), day)
        finally:
            engine.dispose()
    for total in built.nightly.totals:
        out(f"{day} {total.currency}: {total.orders} orders, {total.units} units")
    out(str(built.folder.resolve()))
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report_parser = sub.add_parser("report", help="the nightly report")
    actions = report_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    nightly = actions.add_parser(
        "nightly", help="build a day's nightly report again (HTML and CSV files) and print its path"
    )
    nightly.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="the shop-local day (YYYY-MM-DD); default: yesterday",
    )
    nightly.set_defaults(handler=cmd_nightly)
