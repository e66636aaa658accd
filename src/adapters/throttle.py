"""The brute-force brake for internal calls, per peer, in this process's memory."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from revocation.domain.errors import Throttled
from revocation.domain.ports import Attempt, Clock, FailureThrottle

# While attempts in flight could still fill a peer's window, a new one waits for them: each
# resolves within a compare and a round trip. Past this, something is stuck; the caller is
# told to come back (never compared, so never a guess more than the limit).
BUSY_WAIT_SECONDS = 2.0
_FIRST_POLL_SECONDS, _LAST_POLL_SECONDS = 0.001, 0.05


def busy_polls() -> Iterator[float]:
    """Sleeps between looks at a busy window, doubling, bounded by BUSY_WAIT_SECONDS in all."""
    waited, delay = 0.0, _FIRST_POLL_SECONDS
    while waited < BUSY_WAIT_SECONDS:
        yield delay
        waited += delay
        delay = min(2 * delay, _LAST_POLL_SECONDS)


class NoAttempt:
    """The brake is off (`max_failures=0`): nothing to count."""

    async def succeeded(self) -> None:
        return None

    async def failed(self) -> None:
        return None

    async def kept(self, seconds: float) -> NoAttempt:
        return self

    def live(self) -> bool:
        return True


@dataclass(slots=True)
class _Window:
    started: float
    failures: int = 0
    in_flight: int = 0  # reservations not yet resolved, the kept ones included
    turned_away: bool = False  # a reservation had to wait: none is kept in this window

    def resolve(self, *, failed: bool) -> None:
        self.in_flight -= 1
        self.failures += failed


class _LocalAttempt:
    __slots__ = ("_lasts", "_window")

    def __init__(self, window: _Window, lasts: Callable[[_Window, float], bool]) -> None:
        self._window = window
        self._lasts = lasts  # (window, seconds): it stays the peer's window that long

    async def succeeded(self) -> None:
        self._window.resolve(failed=False)

    async def failed(self) -> None:
        self._window.resolve(failed=True)

    async def kept(self, seconds: float) -> _KeptLocal | None:
        if self._window.turned_away or not self._lasts(self._window, seconds):
            self._window.resolve(failed=False)
            return None
        return _KeptLocal(self._window, self._lasts, seconds)


class _KeptLocal:
    __slots__ = ("_kept_at", "_lasts", "_seconds", "_window")

    def __init__(
        self, window: _Window, lasts: Callable[[_Window, float], bool], seconds: float
    ) -> None:
        self._window = window
        self._lasts = lasts
        self._seconds = seconds
        self._kept_at = time.monotonic()

    def live(self) -> bool:
        return (
            time.monotonic() - self._kept_at < self._seconds
            and not self._window.turned_away
            and self._lasts(self._window, 0)
        )

    async def succeeded(self) -> None:
        self._window.resolve(failed=False)

    async def failed(self) -> None:
        self._window.resolve(failed=True)


class InMemoryFailureThrottle:
    """At most `max_failures` wrong guesses compared per peer per `window_seconds` (from its
    first attempt); then it waits out the window. Atomic: a reservation is checked and taken
    with no await in between, on the one event loop.

    Bounded: the oldest peers are forgotten past `max_peers`, so a flood of addresses cannot
    grow memory. `max_failures=0` turns the brake off.
    """

    def __init__(
        self, *, clock: Clock, max_failures: int, window_seconds: float, max_peers: int = 10_000
    ) -> None:
        self._clock = clock
        self._max_failures = max_failures
        self._window = window_seconds
        self._max_peers = max_peers
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    async def reserve(self, peer: str) -> Attempt:
        if not self._max_failures:
            return NoAttempt()
        for delay in busy_polls():
            window = self._current(peer)
            if window.failures >= self._max_failures:
                raise Throttled(self._retry_after(window))
            if window.failures + window.in_flight < self._max_failures:
                window.in_flight += 1
                return _LocalAttempt(window, lambda counted, for_: self._lasts(peer, counted, for_))
            window.turned_away = True
            await asyncio.sleep(delay)
        raise Throttled(1)

    def count_failure(self, peer: str) -> None:
        """A failure compared under a reservation made elsewhere (in Redis, which could not
        take it): counted in the peer's window here, at once."""
        if self._max_failures:
            self._current(peer).failures += 1

    def _current(self, peer: str) -> _Window:
        now = self._clock.now()
        window = self._windows.get(peer)
        if window is None or now - window.started >= self._window:
            window = self._windows[peer] = _Window(started=now)
            self._windows.move_to_end(peer)
            if len(self._windows) > self._max_peers:
                self._windows.popitem(last=False)
        return window

    def _lasts(self, peer: str, window: _Window, seconds: float) -> bool:
        """The peer's window is this one, and still will be in `seconds`."""
        return (
            self._windows.get(peer) is window
            and self._clock.now() + seconds - window.started < self._window
        )

    def _retry_after(self, window: _Window) -> int:
        return max(1, math.ceil(window.started + self._window - self._clock.now()))


_: type[FailureThrottle] = InMemoryFailureThrottle
