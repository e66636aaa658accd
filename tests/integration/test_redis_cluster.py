"""RedisBlacklist on a real three-master Redis Cluster: every command goes to its slot's node.

The contract suite (test_blacklist_contract.py) runs its behaviours on this cluster too; here,
the cluster is private to the test run, so each node's own counters and keys are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import MovedError

from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.client import RedisFailures, build_redis_client
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry, TokenKey, Watermark
from tests.integration.redis_cluster import three_master_cluster
from tests.integration.servers import redis_options
from tests.random_refs import random_key, random_user_id

pytestmark = pytest.mark.redis
DAY = 86_400
SOCKET_TIMEOUT = 0.25  # the production default


@pytest.fixture
def cluster(redis_cluster_client: RedisCluster) -> RedisCluster:
    return redis_cluster_client


@pytest.fixture
async def nodes(cluster: RedisCluster) -> AsyncIterator[list[Redis]]:
    """A plain client per master: the side door that sees where keys really are."""
    # Learns the slot map and opens a connection to each master: handshakes are not counted.
    await cluster.ping(target_nodes=RedisCluster.PRIMARIES)
    addresses = [(node.host, node.port) for node in cluster.get_primaries()]
    clients = [Redis(host=host, port=int(port)) for host, port in sorted(addresses)]
    yield clients
    for client in clients:
        await client.aclose()


def blocked(count: int) -> list[BlacklistEntry]:
    return [BlacklistEntry(random_key(), DAY) for _ in range(count)]


async def holders(nodes: list[Redis], key: bytes) -> set[int]:
    """The indexes of the nodes holding `key` (the others answer MOVED)."""
    found = set()
    for index, node in enumerate(nodes):
        with contextlib.suppress(MovedError):
            if await node.exists(key):
                found.add(index)
    return found


class TestRedisCluster:
    async def test_watermarks_and_blocked_pairs_spread_over_all_masters(
        self, cluster: RedisCluster, nodes: list[Redis]
    ) -> None:
        blacklist = RedisBlacklist(cluster, RedisFailures())
        users, entries = [random_user_id() for _ in range(30)], blocked(30)
        for user in users:
            await blacklist.raise_watermark(Watermark(user, 1.0), DAY)
        await blacklist.add(entries)
        keys = [blacklist.keys.watermark_key(user) for user in users]
        keys += [blacklist.keys.token_key(entry.key) for entry in entries]

        placement = [await holders(nodes, key) for key in keys]

        assert all(len(where) == 1 for where in placement), placement
        assert set().union(*placement) == {0, 1, 2}  # 60 keys: all masters, surely

    async def test_each_operation_goes_straight_to_its_nodes_without_redirects(
        self, cluster: RedisCluster, nodes: list[Redis]
    ) -> None:
        blacklist, user = RedisBlacklist(cluster, RedisFailures()), random_user_id()
        key = random_key()
        assert key_slot(blacklist.keys.token_key(key)) != key_slot(
            blacklist.keys.watermark_key(user)
        )
        for node in nodes:
            await node.config_resetstat()

        await blacklist.raise_watermark(Watermark(user, 5.0), DAY)
        await blacklist.add([*blocked(5), BlacklistEntry(key, DAY)])
        state = await blacklist.lookup(key, user)

        assert state.token_blocked
        assert state.watermark == Watermark(user, 5.0)
        calls = [await command_calls(node) for node in nodes]
        total: dict[str, int] = {}
        for per_node in calls:
            for name, count in per_node.items():
                total[name] = total.get(name, 0) + count
        # No MOVED or ASK: each command went to the node of its slot at once (the script's own
        # GET and SET count too); the lookup is one MGET per slot of its two keys.
        assert total == {"eval": 1, "get": 1, "set": 6 + 1, "mget": 2}
        for node in nodes:
            assert not await node.info("errorstats")

    async def test_an_unreachable_cluster_is_unavailable_within_a_second(self) -> None:
        client = build_redis_client("redis://127.0.0.1:1/0", redis_options(0.5), cluster=True)
        blacklist, user = RedisBlacklist(client, RedisFailures()), random_user_id()
        with pytest.raises(BlacklistUnavailable):
            async with asyncio.timeout(1.0):
                await blacklist.lookup(random_key(), user)
        await client.aclose()


async def command_calls(node: Redis) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT, leaving out our own INFO/CONFIG."""
    stats = await node.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}
    return {name: n for name, n in calls.items() if name not in {"info", "config|resetstat"}}


class TestFrozenMaster:
    async def test_only_its_users_fall_back_and_only_for_a_few_socket_timeouts(
        self, tmp_path: Path
    ) -> None:
        with three_master_cluster(tmp_path) as nodes:
            client = build_redis_client(
                nodes.url, redis_options(SOCKET_TIMEOUT, connect_timeout=0.5), cluster=True
            )
            blacklist = RedisBlacklist(client, RedisFailures())
            await client.ping()
            frozen_port = nodes.ports[1]
            on_frozen, elsewhere, key_elsewhere = placed(client, blacklist, frozen_port)
            nodes.processes[frozen_port].send_signal(signal.SIGSTOP)  # alive, never answers

            started = time.monotonic()
            with pytest.raises(BlacklistUnavailable):
                await blacklist.lookup(random_key(), on_frozen)
            # One retry after re-reading the slot map from a live node: bounded, not 10 tries.
            assert time.monotonic() - started < 4 * SOCKET_TIMEOUT
            assert not (await blacklist.lookup(key_elsewhere, elsewhere)).token_blocked
            await client.aclose()


def placed(client: RedisCluster, blacklist: RedisBlacklist, port: int) -> tuple[int, int, TokenKey]:
    """A user whose watermark lives on the node at `port`, one whose watermark lives elsewhere,
    and a token whose entry lives elsewhere too."""

    def node_port(key: bytes) -> int:
        return int(client.nodes_manager.get_node_from_slot(key_slot(key)).port)

    users = [random_user_id() for _ in range(100)]
    here = [user for user in users if node_port(blacklist.keys.watermark_key(user)) == port]
    there = [user for user in users if node_port(blacklist.keys.watermark_key(user)) != port]
    keys = [random_key() for _ in range(100)]
    key = next(key for key in keys if node_port(blacklist.keys.token_key(key)) != port)
    return here[0], there[0], key
