"""The FailureThrottle port, on memory and on Redis: the same rules, plus what only Redis does
(windows shared by instances, the window as a key TTL, a fallback while Redis is down)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from revocation.adapters.clock import SystemClock
from revocation.adapters.redis.client import RedisClient, RedisFailures, build_redis_client
from revocation.adapters.redis.throttle import RedisFailureThrottle
from revocation.adapters.throttle import InMemoryFailureThrottle
from revocation.domain.errors import Throttled
from revocation.domain.ports import FailureThrottle
from tests.integration.servers import redis_options
from tests.live_server import free_port

MAX_FAILURES, WINDOW = 3, 60


def local(max_failures: int = MAX_FAILURES, window: int = WINDOW) -> InMemoryFailureThrottle:
    return InMemoryFailureThrottle(
        clock=SystemClock(), max_failures=max_failures, window_seconds=window
    )


def shared(
    client: RedisClient, max_failures: int = MAX_FAILURES, window: int = WINDOW
) -> RedisFailureThrottle:
    return RedisFailureThrottle(
        client,
        RedisFailures(),
        max_failures=max_failures,
        window_seconds=window,
        fallback=local(max_failures, window),
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = build_redis_client(redis_url, redis_options(1))
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def throttle(request: pytest.FixtureRequest, redis: RedisClient) -> FailureThrottle:
    return local() if request.param == "memory" else shared(redis)


def peer() -> str:
    return f"2001:db8::{secrets.token_hex(2)}"  # random: windows live in the shared Redis


async def fail(throttle: FailureThrottle, guesser: str, times: int) -> None:
    for _ in range(times):
        await (await throttle.reserve(guesser)).failed()


async def retry_after(throttle: FailureThrottle, guesser: str) -> int:
    """Seconds the guesser is told to wait, or 0 when it may try (that try then succeeds)."""
    try:
        attempt = await throttle.reserve(guesser)
    except Throttled as throttled:
        return throttled.retry_after_seconds
    await attempt.succeeded()
    return 0


class TestEveryThrottle:
    async def test_throttles_after_max_failures_for_at_most_the_window(
        self, throttle: FailureThrottle
    ) -> None:
        guesser = peer()
        await fail(throttle, guesser, MAX_FAILURES)
        assert 0 < await retry_after(throttle, guesser) <= WINDOW
        assert await retry_after(throttle, peer()) == 0  # nobody else

    async def test_a_success_neither_counts_nor_clears_failures(
        self, throttle: FailureThrottle
    ) -> None:
        caller = peer()
        await fail(throttle, caller, MAX_FAILURES - 1)
        for _ in range(2 * MAX_FAILURES):
            await (await throttle.reserve(caller)).succeeded()
        await fail(throttle, caller, 1)
        assert await retry_after(throttle, caller) > 0

    async def test_racing_guesses_are_compared_at_most_the_limit(
        self, throttle: FailureThrottle
    ) -> None:
        guesser, compared = peer(), 0

        async def guess() -> None:
            nonlocal compared
            try:
                attempt = await throttle.reserve(guesser)
            except Throttled:
                return
            compared += 1
            await asyncio.sleep(0.01)  # the compare and its round trips, all overlapping
            await attempt.failed()

        await asyncio.gather(*(guess() for _ in range(200)))
        assert compared == MAX_FAILURES

    async def test_racing_successes_are_never_throttled(self, throttle: FailureThrottle) -> None:
        caller = peer()

        async def call() -> None:
            attempt = await throttle.reserve(caller)
            await asyncio.sleep(0.01)
            await attempt.succeeded()

        await asyncio.gather(*(call() for _ in range(10 * MAX_FAILURES)))  # raises if throttled


class TestRedisThrottle:
    async def test_instances_share_the_window(self, redis: RedisClient) -> None:
        first, second, guesser = shared(redis), shared(redis), peer()
        await fail(first, guesser, MAX_FAILURES)
        assert await retry_after(second, guesser) > 0
        assert 0 < await redis.ttl(f"thr:{guesser}") <= WINDOW  # side door: the window is a TTL

    async def test_the_window_expires(self, redis: RedisClient) -> None:
        throttle, guesser = shared(redis, window=1), peer()
        await fail(throttle, guesser, MAX_FAILURES)
        assert await retry_after(throttle, guesser) == 1
        await asyncio.sleep(1.1)
        assert await retry_after(throttle, guesser) == 0

    async def test_off_writes_nothing(self, redis: RedisClient) -> None:
        throttle, guesser = shared(redis, max_failures=0), peer()
        await fail(throttle, guesser, 5)
        assert await retry_after(throttle, guesser) == 0
        assert await redis.exists(f"thr:{guesser}") == 0

    async def test_brakes_in_memory_while_redis_is_down(self) -> None:
        dead = build_redis_client(f"redis://127.0.0.1:{free_port()}/0", redis_options(0.2))
        throttle, guesser = shared(dead), peer()
        try:
            await fail(throttle, guesser, MAX_FAILURES)
            assert await retry_after(throttle, guesser) > 0
            assert await retry_after(throttle, peer()) == 0
        finally:
            await dead.aclose()
