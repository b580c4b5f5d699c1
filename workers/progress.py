"""A small progress bar on stderr: redrawn in place on a terminal, a few lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30


class ProgressBar:
    """`bar(done, total)` redraws; `bar.close()` ends the line. Quiet for short runs."""

    def __init__(self, label: str, *, stream: TextIO | None = None, min_total: int = 200) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.min_total = min_total
        self.started = time.monotonic()
        self._last_decile = -1
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_total:
            return
        if self.stream.isatty():
            self._redraw(done, total)
        else:
            self._line_per_tenth(done, total)

    def _text(self, done: int, total: int) -> str:
        filled = _WIDTH * done // max(total, 1)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        bar = "#" * filled + "." * (_WIDTH - filled)
        return f"{self.label} [{bar}] {done}/{total} ({rate:,.0f}/s)"

    def _redraw(self, done: int, total: int) -> None:
        self.stream.write("\r" + self._text(done, total))
        self.stream.flush()
        self._drawn = True

    def _line_per_tenth(self, done: int, total: int) -> None:
        decile = 10 * done // max(total, 1)
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(self._text(done, total) + "\n")

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
