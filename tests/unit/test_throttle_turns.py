"""Turns in front of the brake: many attempts at once from one peer queue, never poll, and the
brake still reserves each one."""

from __future__ import annotations

import asyncio

import pytest

from revocation.adapters import throttle_turns
from revocation.adapters.clock import ManualClock
from revocation.adapters.throttle import InMemoryFailureThrottle
from revocation.adapters.throttle_turns import QueuedThrottle
from revocation.domain.errors import Throttled
from revocation.domain.ports import Attempt


class CountingThrottle:
    """The in-memory brake, counting the attempts it holds in flight at once."""

    def __init__(self, max_failures: int) -> None:
        self.brake = InMemoryFailureThrottle(
            clock=ManualClock(start=0), max_failures=max_failures, window_seconds=60
        )
        self.in_flight = self.most_in_flight = self.reserved = 0

    async def reserve(self, peer: str) -> Attempt:
        attempt = await self.brake.reserve(peer)
        self.reserved += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        return Counted(self, attempt)


class Counted:
    def __init__(self, owner: CountingThrottle, attempt: Attempt) -> None:
        self.owner, self.attempt = owner, attempt

    async def succeeded(self) -> None:
        self.owner.in_flight -= 1
        await self.attempt.succeeded()

    async def failed(self) -> None:
        self.owner.in_flight -= 1
        await self.attempt.failed()

    async def kept(self, seconds: float) -> None:
        await self.succeeded()  # this brake wants every reservation back


async def authenticate(throttle: QueuedThrottle, peer: str = "10.0.0.1") -> None:
    attempt = await throttle.reserve(peer)
    await asyncio.sleep(0.001)  # the compare and the brake's round trip
    await attempt.succeeded()


async def test_a_burst_from_one_peer_is_served_in_turns_within_the_limit() -> None:
    inner = CountingThrottle(max_failures=3)
    queued = QueuedThrottle(inner, max_in_flight=3)
    await asyncio.gather(*(authenticate(queued) for _ in range(40)))
    assert inner.reserved == 40  # every one reserved by the brake, none refused
    assert inner.most_in_flight == 3


async def test_a_turn_never_given_back_throttles_the_next_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(throttle_turns, "BUSY_WAIT_SECONDS", 0.05)
    queued = QueuedThrottle(CountingThrottle(max_failures=1), max_in_flight=1)
    stuck = await queued.reserve("p")
    with pytest.raises(Throttled):
        await queued.reserve("p")
    await queued.reserve("another peer")  # other peers are not affected
    await stuck.succeeded()
    await authenticate(queued, "p")  # the turn came back


async def test_failures_still_throttle_through_the_turns() -> None:
    queued = QueuedThrottle(CountingThrottle(max_failures=2), max_in_flight=2)
    for _ in range(2):
        await (await queued.reserve("p")).failed()
    with pytest.raises(Throttled):
        await queued.reserve("p")


async def test_with_the_brake_off_nothing_queues() -> None:
    inner = CountingThrottle(max_failures=0)
    queued = QueuedThrottle(inner, max_in_flight=0)
    attempts = [await queued.reserve("p") for _ in range(10)]
    assert inner.most_in_flight == 10
    for attempt in attempts:
        await attempt.succeeded()
