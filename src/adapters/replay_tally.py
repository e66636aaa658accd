"""Replays of each revoked token counted in this process's memory, with one alert per window."""

from __future__ import annotations

from dataclasses import dataclass

from revocation.domain.ports import Clock, ReplayTally
from revocation.domain.replays import Tally


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

    async def add(
        self, session_id: str, count: int, *, alert_window: int | None, ttl_seconds: int
    ) -> Tally:
        now = self._clock.now()
        counted = self._counts.get(session_id)
        if counted is None or counted.expires <= now:
            self._make_room(now)
            counted = self._counts[session_id] = _Count(0, now + ttl_seconds)
        counted.total += count
        counted.expires = max(counted.expires, now + ttl_seconds)
        alert = alert_window is not None and counted.alert_until <= now
        if alert and alert_window is not None:
            counted.alert_until = now + alert_window
        return Tally(total=counted.total, alert=alert)

    def _make_room(self, now: float) -> None:
        if len(self._counts) < self._max_tokens:
            return
        self._counts = {ref: c for ref, c in self._counts.items() if c.expires > now}
        while len(self._counts) >= self._max_tokens:
            del self._counts[next(iter(self._counts))]


_: type[ReplayTally] = InMemoryReplayTally
