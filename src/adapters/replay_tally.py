"""Replays of each revoked token counted in this process's memory, with one alert per window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from revocation.domain.ports import Clock, ReplayTally
from revocation.domain.replays import Counted, Tally


@dataclass(slots=True)
class _Count:
    total: int
    expires: float
    alert_until: float = 0.0  # the end of the window whose alert was claimed


class InMemoryReplayTally:
    """The tally of one process: the whole fleet's without Redis, the fallback while it fails.

    Bounded: past `max_tokens` tokens, the expired go first, then the oldest counted.
    """

    def __init__(self, clock: Clock, *, max_tokens: int = 10_000) -> None:
        self._clock = clock
        self._max_tokens = max_tokens
        self._counts: dict[str, _Count] = {}

    async def add(self, counts: Sequence[Counted]) -> list[Tally]:
        return [self._add(counted) for counted in counts]

    def _add(self, counted: Counted) -> Tally:
        now = self._clock.now()
        count = self._counts.get(counted.session_id)
        if count is None or count.expires <= now:
            self._make_room(now)
            count = self._counts[counted.session_id] = _Count(0, now + counted.ttl_seconds)
        count.total += counted.count
        count.expires = max(count.expires, now + counted.ttl_seconds)
        window = counted.alert_window
        alert = window is not None and count.alert_until <= now
        if alert and window is not None:
            count.alert_until = now + window
        return Tally(total=count.total, alert=alert)

    def _make_room(self, now: float) -> None:
        if len(self._counts) < self._max_tokens:
            return
        self._counts = {ref: c for ref, c in self._counts.items() if c.expires > now}
        while len(self._counts) >= self._max_tokens:
            del self._counts[next(iter(self._counts))]


_: type[ReplayTally] = InMemoryReplayTally
