"""The FailureThrottle port, on memory and on Redis: the same rules, plus what only Redis does
(counts shared by instances, the window as a key TTL, a fallback while Redis is down)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from adapters.clock import SystemClock
from adapters.redis_blacklist import RedisClient, build_redis_client
from adapters.redis_throttle import RedisFailureThrottle
from adapters.throttle import InMemoryFailureThrottle
from domain.ports import FailureThrottle
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
        max_failures=max_failures,
        window_seconds=window,
        fallback=local(max_failures, window),
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = build_redis_client(redis_url, socket_timeout=1, connect_timeout=1)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def throttle(request: pytest.FixtureRequest, redis: RedisClient) -> FailureThrottle:
    return local() if request.param == "memory" else shared(redis)


def peer() -> str:
    return f"2001:db8::{secrets.token_hex(2)}"  # random: counts live in the shared Redis


class TestEveryThrottle:
    async def test_throttles_after_max_failures_for_at_most_the_window(
        self, throttle: FailureThrottle
    ) -> None:
        guesser = peer()
        for _ in range(MAX_FAILURES):
            assert await throttle.retry_after(guesser) == 0
            await throttle.record_failure(guesser)
        assert 0 < await throttle.retry_after(guesser) <= WINDOW
        assert await throttle.retry_after(peer()) == 0  # nobody else

    async def test_a_success_clears_the_count(self, throttle: FailureThrottle) -> None:
        caller = peer()
        for _ in range(MAX_FAILURES - 1):
            await throttle.record_failure(caller)
        await throttle.record_success(caller)
        await throttle.record_failure(caller)
        assert await throttle.retry_after(caller) == 0


class TestRedisThrottle:
    async def test_instances_share_the_count(self, redis: RedisClient) -> None:
        first, second, guesser = shared(redis), shared(redis), peer()
        for _ in range(MAX_FAILURES):
            await first.record_failure(guesser)
        assert await second.retry_after(guesser) > 0
        assert 0 < await redis.ttl(f"thr:{guesser}") <= WINDOW  # side door: the window is a TTL

    async def test_the_count_expires_with_the_window(self, redis: RedisClient) -> None:
        throttle, guesser = shared(redis, window=1), peer()
        for _ in range(MAX_FAILURES):
            await throttle.record_failure(guesser)
        assert await throttle.retry_after(guesser) == 1
        await asyncio.sleep(1.1)
        assert await throttle.retry_after(guesser) == 0

    async def test_off_writes_nothing(self, redis: RedisClient) -> None:
        throttle, guesser = shared(redis, max_failures=0), peer()
        for _ in range(5):
            await throttle.record_failure(guesser)
        assert await throttle.retry_after(guesser) == 0
        assert await redis.exists(f"thr:{guesser}") == 0

    async def test_counts_in_memory_while_redis_is_down(self) -> None:
        dead = build_redis_client(
            f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2, connect_timeout=0.2
        )
        throttle, guesser = shared(dead), peer()
        try:
            for _ in range(MAX_FAILURES):
                await throttle.record_failure(guesser)
            assert await throttle.retry_after(guesser) > 0
            await throttle.record_success(guesser)
            assert await throttle.retry_after(guesser) == 0
        finally:
            await dead.aclose()
