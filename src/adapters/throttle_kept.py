"""Reservations kept between a peer's comparisons: a client that authenticates on every request
(an OAuth resource server introspecting each call it serves) pays the shared brake's round
trips once per KEEP_SECONDS instead of twice per request."""

from __future__ import annotations

import asyncio

from revocation.domain.ports import Attempt, FailureThrottle, KeptAttempt

# How long a success's reservation serves the peer's next comparisons before it is given back,
# so that other instances of the fleet get their turn at the peer's window. A crashed
# instance's stays counted that long plus the Redis lease's margin (`redis.throttle`).
KEEP_SECONDS = 0.5


class KeepingThrottle:
    """The brake's bound is untouched: every comparison is still made under a reservation the
    brake counts, so at most its limit of wrong guesses is compared per peer per window.

    What changes is when a success's reservation is given back. Kept (still counted), it
    serves the same peer's next comparison with no round trip, one comparison at a time, for
    KEEP_SECONDS at most, and not past its window's end or once the brake turned somebody away
    (the brake decides both, `Attempt.kept`); a wrong guess under it counts as any failure and
    ends it. An idle one is given back when its time is up.
    """

    def __init__(self, inner: FailureThrottle, *, keep_seconds: float = KEEP_SECONDS) -> None:
        self._inner = inner
        self._keep_seconds = keep_seconds
        self._kept: dict[str, KeptAttempt] = {}  # the idle ones: one in use is taken out
        self._giving_back: set[asyncio.Task[None]] = set()

    async def reserve(self, peer: str) -> Attempt:
        kept = self._kept.pop(peer, None)
        if kept is not None:
            if kept.live():
                return _Reused(self, peer, kept)
            self._give_back(kept)
        return _Reserved(self, peer, await self._inner.reserve(peer))

    def __len__(self) -> int:
        """Peers holding a kept reservation here now."""
        return len(self._kept)

    async def aclose(self) -> None:
        """Give back every kept reservation (at shutdown: the fleet's other instances may
        need the turns), and wait for those on their way back."""
        while self._kept:
            self._give_back(self._kept.popitem()[1])
        await asyncio.gather(*self._giving_back, return_exceptions=True)

    async def _succeeded(self, peer: str, attempt: Attempt) -> None:
        """Keep a fresh success for the peer's next comparison, unless one is kept already."""
        if peer in self._kept:
            await attempt.succeeded()
            return
        kept = await attempt.kept(self._keep_seconds)
        if kept is None:
            return
        if peer in self._kept:  # another success kept one meanwhile: one is enough
            await kept.succeeded()
        else:
            self._kept[peer] = kept
            asyncio.get_running_loop().call_later(self._keep_seconds, self._expire, peer, kept)

    async def _reused(self, peer: str, kept: KeptAttempt) -> None:
        if kept.live() and peer not in self._kept:
            self._kept[peer] = kept
        else:
            await kept.succeeded()

    def _expire(self, peer: str, kept: KeptAttempt) -> None:
        """Its time is up: given back now if idle (if in use, its comparison gives it back)."""
        if self._kept.get(peer) is kept:
            del self._kept[peer]
            self._give_back(kept)

    def _give_back(self, kept: KeptAttempt) -> None:
        task = asyncio.get_running_loop().create_task(kept.succeeded())
        self._giving_back.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._giving_back.discard)


class _Reserved:
    """A fresh reservation from the brake."""

    __slots__ = ("_attempt", "_owner", "_peer")

    def __init__(self, owner: KeepingThrottle, peer: str, attempt: Attempt) -> None:
        self._owner = owner
        self._peer = peer
        self._attempt = attempt

    async def succeeded(self) -> None:
        await self._owner._succeeded(self._peer, self._attempt)

    async def failed(self) -> None:
        await self._attempt.failed()

    async def kept(self, seconds: float) -> KeptAttempt | None:
        return await self._attempt.kept(seconds)


class _Reused:
    """A kept reservation, serving one more comparison."""

    __slots__ = ("_kept", "_owner", "_peer")

    def __init__(self, owner: KeepingThrottle, peer: str, kept: KeptAttempt) -> None:
        self._owner = owner
        self._peer = peer
        self._kept = kept

    async def succeeded(self) -> None:
        await self._owner._reused(self._peer, self._kept)

    async def failed(self) -> None:
        await self._kept.failed()

    async def kept(self, seconds: float) -> KeptAttempt | None:
        if self._kept.live():
            return self._kept
        await self._kept.succeeded()
        return None


_: type[FailureThrottle] = KeepingThrottle
