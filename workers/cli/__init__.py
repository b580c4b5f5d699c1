"""`backroom`: the operators' command line.

Every command reads the settings first; a wrong value stops it with one line naming the
variable (exit 2; `health` exits 1, as a container health check must). Servers not configured
are embedded under the data folder, started for the command and stopped after it, unless they
were already running.

The commands live in one module per group: `data` (db, seed, embedded, demo), `run` (worker,
flower), `schedule` (beat, schedule), `operate` (contract, sweep, order, dead-letters,
secret-key), `observe` (metrics, status), `health` (worker, beat), `analytics` (rebuild) and
`report` (nightly).
Each module adds its subcommands to the parser and sets a handler `(settings, args) -> exit
code` on each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from domain.errors import DomainError
from workers import embedded, logs
from workers.cli import analytics, data, health, observe, operate, report, run, schedule
from workers.settings import Settings, SettingsError, load_settings

Handler = Callable[[Settings, argparse.Namespace], int]

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The `backroom` parser with every group's subcommands, in the order `--help` lists them."""
    parser = argparse.ArgumentParser(prog="backroom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (data, run, schedule, operate, observe, health, analytics, report):
        group.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a settings error exits 2, a domain or embedded-server error exits 1."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        logs.configure(settings)
        handler: Handler = args.handler
        return handler(settings, args)
    except SettingsError as error:
        print(f"backroom: {error}", file=sys.stderr)
        return 1 if args.command == "health" else 2  # health checks answer 0 or 1 only
    except (DomainError, embedded.EmbeddedError) as error:
        print(f"backroom: {error}", file=sys.stderr)
        return 1
