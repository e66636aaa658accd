"""Clocks: the real one, and one a test moves by hand."""

from __future__ import annotations

import time


class SystemClock:
    """Wall-clock time; the watermark compares instants across processes, so not monotonic."""

    # `time.time` itself, not a method calling it: every check reads the clock, and a Python
    # frame costs more than the read. (A C function is no descriptor: `self` is not passed.)
    now = staticmethod(time.time)


class ManualClock:
    """A clock that only moves when told to: for tests of expiry and the watermark edge."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, instant: float) -> None:
        self._now = instant
