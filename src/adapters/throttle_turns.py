"""Turns in front of a brake: a caller that authenticates many times at once (an OAuth
resource server introspecting every request) queues in this process instead of polling."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from revocation.adapters.throttle import BUSY_WAIT_SECONDS
from revocation.domain.errors import Throttled
from revocation.domain.ports import Attempt, FailureThrottle, KeptAttempt


@dataclass(slots=True)
class _Turns:
    free: asyncio.Semaphore
    users: int = 0  # waiting or holding a turn: the entry goes when nobody is


class _Turn:
    """A turn taken from a peer's queue, handed to the next caller once."""

    __slots__ = ("_done",)

    def __init__(self, done: Callable[[], None]) -> None:
        self._done: Callable[[], None] | None = done

    def end(self) -> None:
        if self._done is not None:  # resolved once, released once
            self._done()
            self._done = None

    async def after(self, resolving: Awaitable[None]) -> None:
        """The brake resolves the attempt; the turn is handed on whatever happens."""
        try:
            await resolving
        finally:
            self.end()


class _TurnAttempt:
    """The brake's attempt; resolving it also hands the turn to the next caller."""

    __slots__ = ("_inner", "_turn")

    def __init__(self, inner: Attempt, turn: _Turn) -> None:
        self._inner = inner
        self._turn = turn

    async def succeeded(self) -> None:
        await self._turn.after(self._inner.succeeded())

    async def failed(self) -> None:
        await self._turn.after(self._inner.failed())

    async def kept(self, seconds: float) -> KeptAttempt | None:
        """Kept, the reservation keeps its turn here too, until it is given back."""
        kept = None
        try:
            kept = await self._inner.kept(seconds)
        finally:
            if kept is None:
                self._turn.end()
        return None if kept is None else _KeptTurn(kept, self._turn)


class _KeptTurn:
    __slots__ = ("_inner", "_turn")

    def __init__(self, inner: KeptAttempt, turn: _Turn) -> None:
        self._inner = inner
        self._turn = turn

    def live(self) -> bool:
        return self._inner.live()

    async def succeeded(self) -> None:
        await self._turn.after(self._inner.succeeded())

    async def failed(self) -> None:
        await self._turn.after(self._inner.failed())


class QueuedThrottle:
    """The brake decides as before; this only orders a peer's attempts in this process.

    The brake lets at most its limit of attempts be in flight per peer (any could be a wrong
    guess) and makes the next one poll until one resolves. Here the next one waits for a turn
    instead, woken the moment one resolves, in arrival order; past BUSY_WAIT_SECONDS it is
    throttled, as a poll that long would be. Nothing is compared that the brake did not reserve.
    """

    def __init__(self, inner: FailureThrottle, *, max_in_flight: int) -> None:
        self._inner = inner
        self._max = max_in_flight
        self._turns: dict[str, _Turns] = {}

    async def reserve(self, peer: str) -> Attempt:
        if not self._max:  # the brake is off
            return await self._inner.reserve(peer)
        turns = self._turns.setdefault(peer, _Turns(asyncio.Semaphore(self._max)))
        turns.users += 1
        try:
            async with asyncio.timeout(BUSY_WAIT_SECONDS):
                await turns.free.acquire()
        except TimeoutError:
            self._leave(peer, turns, holding=False)
            raise Throttled(1) from None
        except BaseException:  # cancelled while waiting
            self._leave(peer, turns, holding=False)
            raise
        try:
            attempt = await self._inner.reserve(peer)
        except BaseException:
            self._leave(peer, turns, holding=True)
            raise
        return _TurnAttempt(attempt, _Turn(lambda: self._leave(peer, turns, holding=True)))

    def _leave(self, peer: str, turns: _Turns, *, holding: bool) -> None:
        if holding:
            turns.free.release()
        turns.users -= 1
        if turns.users == 0:
            del self._turns[peer]


_: type[FailureThrottle] = QueuedThrottle
