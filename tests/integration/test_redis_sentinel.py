"""The Redis adapters behind a real Sentinel deployment (one primary, one replica, three
sentinels, all `redis-server` processes of the test's own): the confirmations that let a cache
trust its primary, the client following failovers, and the replica wait."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from revocation.adapters.redis.blacklist import RedisBlacklist, ReplicaWait
from revocation.adapters.redis.cached_blacklist import LocallyCachedBlacklist
from revocation.adapters.redis.client import DISTRUSTED, KeyLayout, RedisFailures
from revocation.adapters.redis.mirror_marker import RedisMirrorMarker
from revocation.adapters.redis.sentinel import (
    SentinelPrimary,
    build_sentinel_client,
    follow_primary,
)
from revocation.adapters.redis.tracking import TrackingListener
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry
from tests.integration.redis_sentinel import SERVICE, SentinelDeployment, sentinel_deployment
from tests.integration.servers import redis_options
from tests.random_refs import random_key, random_user_id

pytestmark = pytest.mark.redis

OPTIONS = redis_options(0.5, connect_timeout=0.5)
LEASE = 0.025


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[SentinelDeployment]:
    with sentinel_deployment(tmp_path) as started:
        yield started


@pytest.fixture
async def primary(deployment: SentinelDeployment) -> AsyncIterator[SentinelPrimary]:
    watched = SentinelPrimary([node.address for node in deployment.sentinels], SERVICE, OPTIONS)
    async with watched.watching():
        yield watched


@pytest.fixture
async def client(deployment: SentinelDeployment) -> AsyncIterator[Redis]:
    sentinels = [node.address for node in deployment.sentinels]
    built = build_sentinel_client(sentinels, SERVICE, "redis://", OPTIONS)
    yield built
    await built.aclose()


async def until(predicate: object, within: float) -> float:
    """Seconds until `predicate()` holds."""
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - started < within, f"not within {within} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


class TestConfirmation:
    async def test_trust_takes_a_streak_and_ends_before_a_replica_can_be_promoted(
        self, deployment: SentinelDeployment, primary: SentinelPrimary
    ) -> None:
        first = await primary.locate()
        assert first == deployment.proxy.address  # the node the sentinels monitor
        assert primary.confirms(first)  # every sentinel answered, none sees a failure

        # The sentinels and the replica lose the primary; this process still reaches it.
        deployment.proxy.cut("sentinel", "replica")
        lapsed = await until(lambda: not primary.confirms(first), 5)
        promoted = await until(lambda: deployment.replica.admin().role()[0] == "master", 60)
        assert lapsed < 3 < lapsed + promoted  # trust ended long before the replica took writes
        await asyncio.to_thread(deployment.wait_for_failover)
        second = await primary.locate()
        assert second == deployment.replica.address
        assert primary.superseded(first)  # a listener still on the first one reconnects
        assert not primary.confirms(second)
        await until(lambda: primary.confirms(second), 15)
        assert not primary.confirms(first)

    async def test_without_answers_from_the_sentinels_trust_lapses_within_the_window(
        self, deployment: SentinelDeployment, primary: SentinelPrimary
    ) -> None:
        address = await primary.locate()
        await until(lambda: primary.confirms(address), 15)
        for node in deployment.sentinels:
            node.process.send_signal(signal.SIGSTOP)
        try:
            assert await until(lambda: not primary.confirms(address), 5) < 3
        finally:
            for node in deployment.sentinels:
                node.process.send_signal(signal.SIGCONT)

    async def test_with_a_sentinel_silent_the_others_vouch_after_a_streak(
        self, deployment: SentinelDeployment
    ) -> None:
        deployment.sentinels[2].process.send_signal(signal.SIGSTOP)
        try:
            sentinels = [node.address for node in deployment.sentinels]
            watched = SentinelPrimary(sentinels, SERVICE, OPTIONS)
            async with watched.watching():
                address = await watched.locate()
                assert not watched.confirms(address)  # a vote of the silent one may linger 5 s
                assert await until(lambda: watched.confirms(address), 15) > 4
        finally:
            deployment.sentinels[2].process.send_signal(signal.SIGCONT)


class TestClient:
    async def test_the_client_follows_the_primary_through_a_failover(
        self, deployment: SentinelDeployment, client: Redis
    ) -> None:
        blacklist, key, user = RedisBlacklist(client, RedisFailures()), random_key(), 7
        await blacklist.add([BlacklistEntry(key, 600)])
        await until(lambda: deployment.replica.admin().dbsize() > 0, 5)

        deployment.primary.kill()
        await asyncio.to_thread(deployment.wait_for_failover)
        later = random_key()
        for _ in range(20):  # the pool's old connections fail once each, then re-ask Sentinel
            try:
                await blacklist.add([BlacklistEntry(later, 600)])
                break
            except BlacklistUnavailable:
                await asyncio.sleep(0.1)
        assert (await blacklist.lookup(key, user)).token_blocked  # replicated before the crash
        assert (await blacklist.lookup(later, user)).token_blocked
        promoted = Redis(port=deployment.replica.port)
        assert await promoted.exists(blacklist.keys.token_key(later))  # written to the new one
        await promoted.aclose()

    async def test_a_connection_left_on_another_node_is_reopened_on_the_named_primary(
        self, deployment: SentinelDeployment, primary: SentinelPrimary, client: Redis
    ) -> None:
        follow_primary(client, primary)
        await primary.locate()
        named = (await client.info("server"))["run_id"]
        pool = client.connection_pool
        # As a connection opened (or in use) while the sentinels came to name another node
        # comes back: on the other one, which may still take writes.
        stale = await pool.get_connection()  # type: ignore[no-untyped-call]
        await stale.disconnect()
        await stale.connect_to(deployment.replica.address)
        await pool.release(stale)

        assert (await client.info("server"))["run_id"] == named
        assert len(pool._available_connections) == 1  # the same one, reopened

    async def test_a_revocation_no_replica_took_in_time_is_not_done_and_unvouches_its_bucket(
        self, deployment: SentinelDeployment, client: Redis
    ) -> None:
        keys, failures = KeyLayout(), RedisFailures()
        blacklist = RedisBlacklist(
            client, failures, keys=keys, full_mirror=True, replica_wait=ReplicaWait(1, 100)
        )
        marker = RedisMirrorMarker(client, failures, markers=keys.markers(full=True))
        assert await marker.complete(await marker.begin())
        served = await blacklist.add_identified([BlacklistEntry(random_key(), 600)])
        run_id = (await client.info("server"))["run_id"].encode()
        assert set(served.values()) == {run_id}

        deployment.proxy.stall("replica")
        stuck = random_key()
        started = time.monotonic()
        with pytest.raises(BlacklistUnavailable, match="replica"):
            await blacklist.add_identified([BlacklistEntry(stuck, 600)])
        assert 0.1 <= time.monotonic() - started < 1
        assert failures.seen > 0  # the repair loop is told
        bucket_marker = keys.marker_of(keys.token_key(stuck), full=True)
        assert await client.get(bucket_marker) == DISTRUSTED
        others = [m for m in keys.markers(full=True) if m != bucket_marker]
        assert set(await client.mget(others)) == {b"done:" + run_id}  # only that bucket
        assert not await marker.is_complete()


class TestLocalCache:
    async def test_a_lagging_replica_promoted_is_not_trusted_and_its_losses_never_served(
        self, deployment: SentinelDeployment, primary: SentinelPrimary, client: Redis
    ) -> None:
        keys, failures = KeyLayout(), RedisFailures()
        listener = TrackingListener(
            "redis://",
            failures,
            primary=primary,
            prefixes=keys.tracked_prefixes,
            lease_seconds=LEASE,
        )
        redis_blacklist = RedisBlacklist(client, failures, keys=keys, full_mirror=True)
        cache = LocallyCachedBlacklist(redis_blacklist, listener, lease_seconds=LEASE)
        marker = RedisMirrorMarker(client, failures, markers=keys.markers(full=True))
        user, lost = random_user_id(), random_key()
        async with listener.running():
            assert await marker.complete(await marker.begin())
            await until(lambda: listener.trusted_node(keys.token_key(lost)) is not None, 15)
            assert (await cache.lookup(lost, user)).complete  # the fast path is on
            deployment.proxy.stall("replica")
            await cache.add([BlacklistEntry(lost, 600)])  # acknowledged by the primary alone
            assert (await cache.lookup(lost, user)).token_blocked

            deployment.primary.kill()
            deployment.proxy.cut("replica")  # what it had not received is gone
            await asyncio.to_thread(deployment.wait_for_failover)
            async with Redis(port=deployment.replica.port) as promoted:
                new_node = (await promoted.info("server"))["run_id"]
            await until(lambda: listener.trusted_node(b"") == new_node.encode(), 15)

            state = await cache.lookup(lost, user)
            assert not state.token_blocked  # the promoted replica never had it...
            assert not state.complete  # ...and is not trusted alone: the database decides
            assert await marker.complete(await marker.begin())  # a repair on the new primary
            await cache.add([BlacklistEntry(lost, 600)])  # (re-pushed from the log)
            state = await cache.lookup(lost, user)
            assert (state.token_blocked, state.complete) == (True, True)
