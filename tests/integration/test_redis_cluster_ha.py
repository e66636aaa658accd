"""The local cache on a real Redis Cluster with replicas (three primaries, a replica each, all
`redis-server` processes of the test's own): a tracking connection per primary, trust per
bucket, and what a failover, a flush, a moved slot or a stalled replica leaves trusted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from revocation.adapters.redis.blacklist import RedisBlacklist, ReplicaWait
from revocation.adapters.redis.cached_blacklist import LocallyCachedBlacklist
from revocation.adapters.redis.client import (
    DISTRUSTED,
    KeyLayout,
    RedisFailures,
    build_redis_client,
)
from revocation.adapters.redis.cluster import ClusterTracking, ClusterView
from revocation.adapters.redis.mirror_marker import RedisMirrorMarker
from revocation.adapters.redis.tracking import CLIENT_NAME
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry, BlacklistState, TokenKey
from tests.integration.redis_cluster import ReplicatedCluster, move_slot, replicated_cluster
from tests.integration.redis_processes import RedisProcess
from tests.integration.servers import redis_options
from tests.random_refs import random_key, random_user_id

pytestmark = pytest.mark.redis

OPTIONS = redis_options(0.5, connect_timeout=0.5)
LEASE = 0.025


@dataclass
class Stack:
    """One instance's view of the cluster: the cache, what it is built on, and the nodes."""

    cluster: ReplicatedCluster
    client: RedisCluster
    feed: ClusterTracking
    redis: RedisBlacklist
    cache: LocallyCachedBlacklist
    marker: RedisMirrorMarker
    keys: KeyLayout
    failures: RedisFailures

    def key_on(self, node: RedisProcess) -> TokenKey:
        """A token whose pair key lives on `node`'s slots (by the cluster's current map)."""
        for _ in range(10_000):
            key = random_key()
            if self.owner_port(self.keys.token_key(key)) == self.announced(node):
                return key
        raise AssertionError(f"no key found for {node.port}")

    def user_on(self, node: RedisProcess) -> int:
        """A user whose watermark lives on `node`'s slots."""
        for user in range(1, 10_000):
            if self.owner_port(self.keys.watermark_key(user)) == self.announced(node):
                return user
        raise AssertionError(f"no user found for {node.port}")

    def owner_port(self, key: bytes) -> int:
        return int(self.client.nodes_manager.get_node_from_slot(key_slot(key)).port)

    def announced(self, node: RedisProcess) -> int:
        primary = self.cluster.primaries[0]
        return self.cluster.proxy.port if node is primary else node.port

    async def lookup(self, key: TokenKey, user: int = 1) -> BlacklistState:
        """The cache's answer, once the cluster client has followed a change (its first call
        to a dead node fails, and re-reads the slot map)."""
        for _ in range(50):
            try:
                return await self.cache.lookup(key, user)
            except BlacklistUnavailable:
                await asyncio.sleep(0.1)
        raise AssertionError("the cluster never answered")

    async def repaired(self) -> None:
        assert await self.marker.complete(await self.marker.begin())

    async def trusted(self, key: TokenKey, user: int = 1, within: float = 15) -> None:
        """Until the buckets of the key and the user's watermark are answered alone."""
        deadline = time.monotonic() + within
        while not (await self.lookup(key, user)).complete:
            assert time.monotonic() < deadline, "never trusted"
            await asyncio.sleep(0.05)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ReplicatedCluster]:
    with replicated_cluster(tmp_path) as started:
        yield started


@pytest.fixture
async def stack(cluster: ReplicatedCluster) -> AsyncIterator[Stack]:
    keys, failures = KeyLayout(), RedisFailures()
    client = build_redis_client(cluster.url, OPTIONS, cluster=True)
    feed = ClusterTracking(
        ClusterView(cluster.url, OPTIONS),
        cluster.url,
        failures,
        prefixes=keys.tracked_prefixes,
        lease_seconds=LEASE,
    )
    redis_blacklist = RedisBlacklist(client, failures, keys=keys, full_mirror=True)
    cache = LocallyCachedBlacklist(redis_blacklist, feed, lease_seconds=LEASE)
    marker = RedisMirrorMarker(client, failures, markers=keys.markers(full=True))
    async with feed.running():
        built = Stack(cluster, client, feed, redis_blacklist, cache, marker, keys, failures)
        await built.repaired()
        yield built
    await client.aclose()


async def until(predicate: object, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {within} s"
        await asyncio.sleep(0.05)


class TestTrustPerShard:
    async def test_every_shard_is_answered_alone_from_memory(self, stack: Stack) -> None:
        for node in stack.cluster.primaries:
            key = stack.key_on(node)
            await stack.trusted(key)  # a write counts only on a confirmed primary
            await stack.cache.add([BlacklistEntry(key, 600)])
            state = await stack.cache.lookup(key, random_user_id())
            assert (state.token_blocked, state.complete) == (True, True)

    async def test_a_failed_over_shard_is_distrusted_and_the_others_keep_the_fast_path(
        self, stack: Stack
    ) -> None:
        victim, other = stack.cluster.primaries[1], stack.cluster.primaries[2]
        lost, kept, user = stack.key_on(victim), stack.key_on(other), stack.user_on(other)
        for key in (lost, kept):
            await stack.trusted(key, user)
        victim.kill()
        await asyncio.to_thread(stack.cluster.wait_for_failover, 1)
        await until(lambda: stack.feed.trusted_node(stack.keys.token_key(lost)) is not None, 15)
        assert not (await stack.lookup(lost, user)).complete  # the database decides...
        await stack.trusted(kept, user)  # ...for that shard only
        await stack.repaired()  # until a repair on the new primary
        await stack.trusted(lost, user)

    async def test_a_flushed_shard_is_distrusted_alone(self, stack: Stack) -> None:
        flushed, other = stack.cluster.primaries[2], stack.cluster.primaries[1]
        gone, kept = stack.key_on(flushed), stack.key_on(other)
        user = stack.user_on(other)  # a lookup reads the user's watermark bucket too
        for key in (gone, kept):
            await stack.trusted(key, user)
        await stack.cache.add([BlacklistEntry(gone, 600)])
        with flushed.admin() as admin:
            admin.flushall()
        await until(lambda: stack.feed.trusted_node(stack.keys.token_key(gone)) is not None, 5)
        state = await stack.lookup(gone, user)
        assert (state.token_blocked, state.complete) == (False, False)
        await stack.trusted(kept, user)

    async def test_a_killed_tracking_connection_drops_the_cache_until_it_is_back(
        self, stack: Stack
    ) -> None:
        node = stack.cluster.primaries[1]
        key = stack.key_on(node)
        await stack.trusted(key)
        generation = stack.feed.generation
        with node.admin() as admin:
            killed = [c for c in admin.client_list() if c["name"] == CLIENT_NAME.decode()]
            for client in killed:
                admin.client_kill_filter(_id=client["id"])
        await until(lambda: stack.feed.generation > generation, 5)
        await stack.trusted(key)  # reconnected: the fast path is back


class TestMovedSlot:
    async def test_a_slot_moved_to_a_trusted_shard_is_not_trusted_by_the_move(
        self, stack: Stack
    ) -> None:
        source, target = stack.cluster.primaries[1], stack.cluster.primaries[2]
        key = stack.key_on(source)
        token_key = stack.keys.token_key(key)
        await stack.trusted(key)
        await stack.cache.add([BlacklistEntry(key, 600)])
        await asyncio.to_thread(move_slot, key_slot(token_key), source, target)
        await until(lambda: stack.feed.trusted_node(token_key) is not None, 5)
        await until(
            lambda: stack.feed.node_of(token_key) == run_id(target),
            5,
        )
        state = await stack.lookup(key)
        assert (state.token_blocked, state.complete) == (True, False)  # moved, yet not vouched
        await stack.repaired()
        await stack.trusted(key)


class TestReplicas:
    async def test_a_lagging_replica_promoted_is_distrusted_and_its_losses_never_served(
        self, stack: Stack
    ) -> None:
        cluster = stack.cluster
        lost = stack.key_on(cluster.primaries[0])
        await stack.trusted(lost)
        cluster.proxy.stall("replica-0")
        await stack.cache.add([BlacklistEntry(lost, 600)])  # acknowledged by the primary alone
        cluster.primaries[0].kill()
        cluster.proxy.cut("replica-0")  # what the replica had not received is gone
        await asyncio.to_thread(cluster.wait_for_failover, 0)
        token_key = stack.keys.token_key(lost)
        await until(lambda: stack.feed.trusted_node(token_key) is not None, 15)
        state = await stack.lookup(lost)
        assert (state.token_blocked, state.complete) == (False, False)  # the database decides

    async def test_a_revocation_waits_for_its_own_shards_replica(self, stack: Stack) -> None:
        waiting = RedisBlacklist(
            stack.client,
            stack.failures,
            keys=stack.keys,
            full_mirror=True,
            replica_wait=ReplicaWait(1, 100),
        )
        stalled, healthy = (
            stack.key_on(stack.cluster.primaries[0]),
            stack.key_on(stack.cluster.primaries[1]),
        )
        await waiting.add_identified([BlacklistEntry(stalled, 600)])
        stack.cluster.proxy.stall("replica-0")
        await waiting.add_identified([BlacklistEntry(healthy, 600)])  # another shard's replica
        with pytest.raises(BlacklistUnavailable, match="replica"):
            await waiting.add_identified([BlacklistEntry(stalled, 600)])
        marker = stack.keys.marker_of(stack.keys.token_key(stalled), full=True)
        assert await stack.client.get(marker) == DISTRUSTED


def run_id(node: RedisProcess) -> bytes:
    with node.admin() as admin:
        return str(admin.info("server")["run_id"]).encode()
