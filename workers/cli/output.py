"""What the command line prints: results on stdout, errors and progress bars on stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from tqdm import tqdm

Progress = Callable[[int, int], None]  # progress(done, total)

# Seconds between redraws when stderr is not a terminal (a pipe, a log file), where each
# redraw is kept rather than drawn over.
_LOG_INTERVAL = 10.0


def out(line: str = "") -> None:
    print(line, flush=True)


def fail(message: str) -> None:
    print(f"backroom: {message}", file=sys.stderr, flush=True)


@contextmanager
def progress_bar(label: str, *, min_total: int = 200) -> Iterator[Progress]:
    """A `progress(done, total)` callback that draws a tqdm bar on stderr, closed on the way out.

    The bar starts at the first call, which gives the total; a total below `min_total` shows
    nothing. On a terminal the bar is redrawn in place; elsewhere at most every `_LOG_INTERVAL`
    seconds, and once more, complete, at the end.
    """
    bars: list[tqdm[NoReturn]] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(_bar(label, total, quiet=total < min_total))
        bars[0].update(done - bars[0].n)

    try:
        yield progress
    finally:
        for bar in bars:
            bar.close()


def _bar(label: str, total: int, *, quiet: bool) -> tqdm[NoReturn]:
    interval = 0.1 if sys.stderr.isatty() else _LOG_INTERVAL
    return tqdm(desc=label, total=total, file=sys.stderr, mininterval=interval, disable=quiet)
