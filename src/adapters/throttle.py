"""Brute-force brake for internal calls: failures counted per peer in this process."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from domain.ports import Clock


@dataclass(slots=True)
class _Failures:
    count: int
    window_started: float


class InMemoryFailureThrottle:
    """After `max_failures` within `window_seconds`, a peer waits out the rest of the window.

    Bounded: the oldest peers are forgotten past `max_peers`, so a flood of addresses
    cannot grow memory. `max_failures=0` turns the throttle off.
    """

    def __init__(
        self, *, clock: Clock, max_failures: int, window_seconds: float, max_peers: int = 10_000
    ) -> None:
        self._clock = clock
        self._max_failures = max_failures
        self._window = window_seconds
        self._max_peers = max_peers
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    async def retry_after(self, peer: str) -> int:
        failures = self._current(peer)
        if failures is None or not self._max_failures or failures.count < self._max_failures:
            return 0
        return max(1, math.ceil(failures.window_started + self._window - self._clock.now()))

    async def record_failure(self, peer: str) -> None:
        failures = self._current(peer)
        if failures is None:
            self._failures[peer] = _Failures(1, self._clock.now())
            if len(self._failures) > self._max_peers:
                self._failures.popitem(last=False)
        else:
            failures.count += 1

    async def record_success(self, peer: str) -> None:
        self._failures.pop(peer, None)

    def _current(self, peer: str) -> _Failures | None:
        failures = self._failures.get(peer)
        if failures and self._clock.now() - failures.window_started >= self._window:
            del self._failures[peer]
            return None
        return failures
