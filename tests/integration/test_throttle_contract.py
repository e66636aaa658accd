"""The FailureThrottle port, on memory and on Redis: the same rules, plus what only Redis does
(windows shared by instances, the window as a key TTL, a fallback while Redis is down)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from revocation.adapters.clock import ManualClock, SystemClock
from revocation.adapters.redis.client import RedisClient, RedisFailures, build_redis_client
from revocation.adapters.redis.throttle import RedisFailureThrottle
from revocation.adapters.throttle import InMemoryFailureThrottle
from revocation.adapters.throttle_kept import KeepingThrottle
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
    client: RedisClient,
    max_failures: int = MAX_FAILURES,
    window: int = WINDOW,
    lease_margin: float = 5.0,
) -> RedisFailureThrottle:
    return RedisFailureThrottle(
        client,
        RedisFailures(),
        max_failures=max_failures,
        window_seconds=window,
        fallback=local(max_failures, window),
        lease_margin_seconds=lease_margin,
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = build_redis_client(redis_url, redis_options(1))
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def brake(request: pytest.FixtureRequest, redis: RedisClient) -> FailureThrottle:
    return local() if request.param == "memory" else shared(redis)


@pytest.fixture(params=["as is", "keeping successes"])
async def throttle(
    request: pytest.FixtureRequest, brake: FailureThrottle
) -> AsyncIterator[FailureThrottle]:
    if request.param == "as is":
        yield brake
        return
    keeping = KeepingThrottle(brake)
    yield keeping
    await keeping.aclose()


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


async def free_now(brake: FailureThrottle, caller: str, within: float = 0.2) -> bool:
    """Whether the brake has a reservation free for the caller soon (each poll of a busy
    window waits): the peer's limit is 1 in these tests, so this says whether one is kept."""
    try:
        attempt = await asyncio.wait_for(brake.reserve(caller), within)
    except TimeoutError:
        return False
    await attempt.succeeded()
    return True


class TestKeptReservations:
    """What keeping a success's reservation may and may not do, on both brakes (limit 1)."""

    @pytest.fixture(params=["memory", "redis"])
    def one_guess(self, request: pytest.FixtureRequest, redis: RedisClient) -> FailureThrottle:
        return local(max_failures=1) if request.param == "memory" else shared(redis, 1)

    async def test_a_kept_reservation_still_counts_and_a_wrong_guess_under_it_fails(
        self, one_guess: FailureThrottle
    ) -> None:
        keeping, caller = KeepingThrottle(one_guess, keep_seconds=5), peer()
        for _ in range(3):
            await (await keeping.reserve(caller)).succeeded()
        assert not await free_now(one_guess, caller)  # the one reservation is kept
        await (await keeping.reserve(caller)).failed()  # under the kept one: no wait
        assert await retry_after(one_guess, caller) > 0
        assert await retry_after(keeping, caller) > 0

    async def test_it_is_given_back_when_its_time_is_up(self, one_guess: FailureThrottle) -> None:
        keeping, caller = KeepingThrottle(one_guess, keep_seconds=0.05), peer()
        await (await keeping.reserve(caller)).succeeded()
        assert len(keeping) == 1
        await asyncio.sleep(0.1)
        assert len(keeping) == 0
        assert await free_now(one_guess, caller, within=0.05)

    async def test_it_is_given_back_at_shutdown(self, one_guess: FailureThrottle) -> None:
        keeping, caller = KeepingThrottle(one_guess, keep_seconds=60), peer()
        await (await keeping.reserve(caller)).succeeded()
        await keeping.aclose()
        assert await free_now(one_guess, caller, within=0.05)

    async def test_none_is_kept_once_somebody_was_turned_away(
        self, one_guess: FailureThrottle
    ) -> None:
        keeping, caller = KeepingThrottle(one_guess, keep_seconds=5), peer()
        other = await one_guess.reserve(caller)  # another instance's comparison, in flight
        waiting = asyncio.create_task(keeping.reserve(caller))
        await asyncio.sleep(0.05)  # turned away at least once: polling
        await other.succeeded()
        await (await waiting).succeeded()
        assert len(keeping) == 0
        assert await free_now(one_guess, caller, within=0.05)
        await keeping.aclose()

    async def test_none_is_kept_past_its_window(self) -> None:
        clock = ManualClock()
        brake = InMemoryFailureThrottle(clock=clock, max_failures=1, window_seconds=60)
        keeping, caller = KeepingThrottle(brake, keep_seconds=5), peer()
        clock.advance(58)  # a window older than the first attempt: the caller's starts now
        await (await keeping.reserve(caller)).succeeded()
        clock.advance(59)
        await (await keeping.reserve(caller)).failed()  # kept one still in its window
        assert await retry_after(brake, caller) > 0
        clock.advance(2)  # a new window: the kept one no longer counts in it
        assert await retry_after(keeping, caller) == 0
        await keeping.aclose()


class TestRedisKeptLeases:
    async def test_a_crashed_instance_s_kept_reservation_lapses(self, redis: RedisClient) -> None:
        brake, caller = shared(redis, 1, lease_margin=0.2), peer()
        never_given_back = await (await brake.reserve(caller)).kept(0.1)
        assert never_given_back is not None
        assert never_given_back.live()
        await asyncio.sleep(0.15)
        assert not never_given_back.live()  # no longer used here, still counted in Redis
        assert not await free_now(brake, caller, within=0.1)
        await asyncio.sleep(0.1)  # its lease lapsed: 0.1 s of use and the 0.2 s margin
        assert await free_now(brake, caller, within=0.05)

    async def test_none_is_kept_for_longer_than_the_window_has_left(
        self, redis: RedisClient
    ) -> None:
        brake, caller = shared(redis, 1, window=1), peer()
        assert await (await brake.reserve(caller)).kept(2) is None
        assert await free_now(brake, caller, within=0.05)  # given back instead

    async def test_a_failure_counts_even_after_its_window_was_lost(
        self, redis: RedisClient
    ) -> None:
        brake, caller = shared(redis, 1), peer()
        attempt = await brake.reserve(caller)
        await redis.delete(f"thr:{caller}")  # a flush, a failover to an empty replica
        await attempt.failed()
        assert await retry_after(brake, caller) > 0

    async def test_of_two_successes_kept_at_once_one_is_given_back(
        self, redis: RedisClient
    ) -> None:
        brake, caller = shared(redis, 2), peer()
        keeping = KeepingThrottle(brake, keep_seconds=5)
        first, second = await keeping.reserve(caller), await keeping.reserve(caller)
        await asyncio.gather(first.succeeded(), second.succeeded())  # both ask Redis to keep
        assert len(keeping) == 1
        assert await free_now(brake, caller, within=0.05)  # the other reservation came back
        await keeping.aclose()


class SentTwice:
    """A client whose every script runs twice, as redis-py's retry runs one whose connection
    dropped after the server had run it."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def eval(self, script: str, numkeys: int, *args: object) -> object:
        await self._client.eval(script, numkeys, *args)  # type: ignore[arg-type]
        return await self._client.eval(script, numkeys, *args)  # type: ignore[arg-type]


class Failing:
    """A client Redis stops answering when told to."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self.down = False

    async def eval(self, script: str, numkeys: int, *args: object) -> object:
        if self.down:
            raise RedisConnectionError("gone")
        return await self._client.eval(script, numkeys, *args)  # type: ignore[arg-type]


class TestRedisScriptsSentTwice:
    async def test_a_success_sent_twice_frees_one_reservation_not_two(
        self, redis: RedisClient
    ) -> None:
        twice = shared(SentTwice(redis), 1)  # type: ignore[arg-type]
        caller = peer()
        for _ in range(3):
            await (await twice.reserve(caller)).succeeded()
        held = await shared(redis, 1).reserve(caller)  # the one reservation there is
        assert not await free_now(shared(redis, 1), caller, within=0.1)
        await held.succeeded()

    async def test_a_keep_sent_twice_keeps_one(self, redis: RedisClient) -> None:
        twice, caller = shared(SentTwice(redis), 2), peer()  # type: ignore[arg-type]
        kept = await (await twice.reserve(caller)).kept(5)
        assert kept is not None
        fields = await redis.hkeys(f"thr:{caller}")
        assert sorted(field[:2] for field in fields if field[1:2] == b":") == [b"k:"]
        await kept.succeeded()
        assert await free_now(shared(redis, 2), caller, within=0.05)

    async def test_racing_guesses_sent_twice_are_still_compared_at_most_the_limit(
        self, redis: RedisClient
    ) -> None:
        twice, guesser, compared = shared(SentTwice(redis)), peer(), 0  # type: ignore[arg-type]

        async def guess() -> None:
            nonlocal compared
            try:
                attempt = await twice.reserve(guesser)
            except Throttled:
                return
            compared += 1
            await asyncio.sleep(0.01)
            await attempt.failed()

        await asyncio.gather(*(guess() for _ in range(50)))
        assert 0 < compared <= MAX_FAILURES  # a failure sent twice may count twice


async def test_a_failure_redis_cannot_take_counts_in_this_process(redis: RedisClient) -> None:
    client, guesser = Failing(redis), peer()
    brake = RedisFailureThrottle(
        client,  # type: ignore[arg-type]
        RedisFailures(),
        max_failures=1,
        window_seconds=WINDOW,
        fallback=(fallback := local(max_failures=1)),
        lease_margin_seconds=0.1,
    )
    kept = await (await brake.reserve(guesser)).kept(0.1)
    assert kept is not None
    client.down = True
    await kept.failed()  # its lease lapses in Redis in 0.2 s, and Redis never heard of it
    assert await retry_after(fallback, guesser) > 0


async def test_a_window_keeps_the_count_an_older_version_reads(redis: RedisClient) -> None:
    """During a rolling upgrade, older instances' scripts read `r`: every window has one."""
    caller = peer()
    await (await shared(redis).reserve(caller)).succeeded()
    assert await redis.hget(f"thr:{caller}", "r") == b"0"
    await redis.delete(f"thr:{caller}")
    await (await shared(redis).reserve(caller)).failed()  # its window gone: a new one for it
    assert await redis.hget(f"thr:{caller}", "r") == b"0"


async def test_a_failure_counted_here_for_redis_counts_at_once() -> None:
    brake, guesser = local(max_failures=2), peer()
    brake.count_failure(guesser)  # no reservation, no turn to wait for
    assert await retry_after(brake, guesser) == 0  # one failure of two
    brake.count_failure(guesser)
    assert await retry_after(brake, guesser) > 0
