"""The ReplayTally port, in memory and on Redis: the same counts and one alert per window, plus
what only Redis does (one alert for the whole fleet, key lifetimes, a fallback while it is down)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio.cluster import RedisCluster

from revocation.adapters.clock import ManualClock
from revocation.adapters.redis.client import RedisClient, RedisFailures, build_redis_client
from revocation.adapters.redis.replay_tally import RedisReplayTally
from revocation.adapters.replay_tally import InMemoryReplayTally
from revocation.domain.ports import ReplayTally
from revocation.domain.replays import Counted, Tally
from tests.integration.servers import redis_options
from tests.live_server import free_port

WINDOW, TTL = 1, 60  # a one-second window: Redis' own expiry is what ends it


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = build_redis_client(redis_url, redis_options(1))
    yield client
    await client.aclose()


def shared(client: RedisClient, failures: RedisFailures | None = None) -> RedisReplayTally:
    fallback = InMemoryReplayTally(ManualClock())
    return RedisReplayTally(client, failures or RedisFailures(), fallback=fallback)


class Tallies:
    """A tally and a way to let a window pass, whichever clock ends it."""

    def __init__(self, tally: ReplayTally, clock: ManualClock | None) -> None:
        self.tally = tally
        self._clock = clock

    async def window_passes(self) -> None:
        if self._clock is not None:
            self._clock.advance(WINDOW)
        else:
            await asyncio.sleep(WINDOW + 0.1)

    async def add(self, token: str, count: int, *, alert: bool = True) -> Tally:
        return await one(self.tally, token, count, alert_window=WINDOW if alert else None)


async def one(
    tally: ReplayTally, token: str, count: int, *, alert_window: int | None, ttl: int = TTL
) -> Tally:
    """A round of one token."""
    [counted] = await tally.add([Counted(token, count, alert_window, ttl)])
    return counted


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def tallies(request: pytest.FixtureRequest) -> Tallies:
    if request.param == "memory":
        clock = ManualClock()
        return Tallies(InMemoryReplayTally(clock), clock)
    return Tallies(shared(request.getfixturevalue("redis")), None)


def a_token() -> str:
    return secrets.token_urlsafe(16)  # a session id's shape; random: the Redis is shared


class TestReplayTally:
    async def test_counts_each_tokens_replays_and_alerts_once_per_window(
        self, tallies: Tallies
    ) -> None:
        token, other = a_token(), a_token()

        first, second = await tallies.add(token, 3), await tallies.add(token, 2)
        elsewhere = await tallies.add(other, 1)

        assert (first, second, elsewhere) == (Tally(3, True), Tally(5, False), Tally(1, True))

    async def test_alerts_again_once_the_window_passed(self, tallies: Tallies) -> None:
        token = a_token()
        await tallies.add(token, 1)

        await tallies.window_passes()

        assert await tallies.add(token, 1) == Tally(2, True)

    async def test_counting_in_the_grace_period_leaves_the_alert_to_claim(
        self, tallies: Tallies
    ) -> None:
        token = a_token()

        in_grace = await tallies.add(token, 4, alert=False)

        assert (in_grace, await tallies.add(token, 1)) == (Tally(4, False), Tally(5, True))

    async def test_a_round_of_several_tokens_answers_each_in_order(self, tallies: Tallies) -> None:
        seen, grace, fresh = a_token(), a_token(), a_token()
        await tallies.add(seen, 2)

        answers = await tallies.tally.add(
            [
                Counted(seen, 1, WINDOW, TTL),
                Counted(grace, 5, None, TTL),
                Counted(fresh, 3, WINDOW, TTL),
            ]
        )

        assert answers == [Tally(3, False), Tally(5, False), Tally(3, True)]
        assert await tallies.tally.add([]) == []


@pytest.mark.redis
class TestOnRedis:
    async def test_one_alert_for_the_whole_fleet(self, redis: RedisClient) -> None:
        instances = [shared(redis) for _ in range(4)]
        token = a_token()

        tallies = await asyncio.gather(
            *(one(i, token, 1, alert_window=60) for i in instances for _ in "xyz")
        )

        assert [t.alert for t in tallies].count(True) == 1
        assert max(t.total for t in tallies) == 12

    async def test_counts_live_as_long_as_the_token_and_name_no_token(
        self, redis: RedisClient
    ) -> None:
        token = a_token()

        await one(shared(redis), token, 1, alert_window=30, ttl=90)

        assert 85 <= await redis.ttl(f"rpl{{{token}}}n") <= 90
        assert 25 <= await redis.ttl(f"rpl{{{token}}}a") <= 30

    async def test_counts_in_this_process_while_redis_is_down(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        dead = build_redis_client(f"redis://127.0.0.1:{free_port()}/0", redis_options(0.2))
        failures = RedisFailures()
        tally = shared(dead, failures)
        token = a_token()
        try:
            first = await one(tally, token, 2, alert_window=60)
            second = await one(tally, token, 1, alert_window=60)
            third = await one(tally, a_token(), 1, alert_window=60)
        finally:
            await dead.aclose()

        assert (first, second, third) == (Tally(2, True), Tally(3, False), Tally(1, True))
        assert failures.seen == 3  # the repair loop learns Redis failed
        warnings = [r for r in caplog.records if r.name.endswith("replay_tally")]
        assert len(warnings) == 1  # once per spell: a replay flood during an outage is not
        # a flood of log lines


@pytest.mark.redis
async def test_a_round_over_every_shard_of_a_cluster(redis_cluster_client: RedisCluster) -> None:
    """One round's counts land on their own slots' nodes, each answered in its place."""
    tally = shared(redis_cluster_client)
    tokens = [a_token() for _ in range(30)]  # over the three masters, with near certainty
    await one(tally, tokens[0], 4, alert_window=60)

    answers = await tally.add([Counted(token, 1, 60, TTL) for token in tokens])

    assert answers == [Tally(5, False), *[Tally(1, True)] * 29]
    nodes = {redis_cluster_client.get_node_from_key(f"rpl{{{token}}}n") for token in tokens}
    assert len(nodes) == 3
    assert None not in nodes
