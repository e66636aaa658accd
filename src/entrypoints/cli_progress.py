"""A long purge's progress on a terminal: rows so far and the rate, rewritten in place."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """Called with the running total; draws only on a terminal (a log file gets the final count
    alone), at most ten times a second."""

    def __init__(self, stream: TextIO, what: str) -> None:
        self._stream = stream
        self._what = what
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._on_terminal = stream.isatty()
        self._drawn = False

    def __call__(self, total: int) -> None:
        now = time.monotonic()
        if not self._on_terminal or now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        rate = total / max(now - self._started, 1e-6)
        self._stream.write(f"\r{total} {self._what} so far ({rate:,.0f}/s)")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
