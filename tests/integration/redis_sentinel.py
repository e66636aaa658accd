"""A throwaway Sentinel deployment of local `redis-server` processes: one primary, one replica,
three sentinels (quorum 2). The primary sits behind a `FaultProxy`: the sentinels monitor it,
the replica replicates from it and the service reaches it through the proxy, so a test can cut
or stall one of those parties alone. Nothing here touches the shared Redis on 6379.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.integration.fault_proxy import FaultProxy
from tests.integration.redis_processes import RedisProcess, start_redis, wait_until
from tests.integration.servers import unavailable

SERVICE = "rv"
DOWN_AFTER_MS = 3000  # the sentinels' down-after-milliseconds: how soon a failover starts


@dataclass
class SentinelDeployment:
    primary: RedisProcess
    replica: RedisProcess
    sentinels: list[RedisProcess]
    proxy: FaultProxy  # in front of the first primary
    parties: dict[int, str] = field(default_factory=dict)  # pid -> name, for the proxy

    def env(self) -> dict[str, str]:
        addresses = ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)
        return {"REDIS_SENTINELS": addresses, "REDIS_SENTINEL_SERVICE": SERVICE}

    def named_primary(self) -> tuple[str, int] | None:
        """The address most sentinels name now."""
        named: list[tuple[str, int]] = []
        for node in self.sentinels:
            with contextlib.suppress(redis.RedisError), node.admin() as admin:
                host, port = admin.sentinel_get_master_addr_by_name(SERVICE)
                named.append((host, int(port)))
        return max(set(named), key=named.count) if named else None

    def wait_replicated(self, replica: RedisProcess, announced: tuple[str, int]) -> None:
        """Until `replica` is in sync and every live sentinel lists it (as `announced`) as a
        replica fit to promote. Sentinels learn of a new replica from the primary's INFO, every
        10 s; a primary killed before that has no replica they would promote."""

        def fit(state: dict[str, object]) -> bool:
            address = (str(state["ip"]), int(str(state["port"])))
            return (
                address == announced
                and state["flags"] == "slave"
                and state["master-link-status"] == "ok"
            )

        def ready() -> bool:
            if replica.admin().info("replication").get("master_link_status") != "up":
                return False
            return all(
                any(fit(state) for state in node.admin().sentinel_slaves(SERVICE))
                for node in self.sentinels
                if node.alive()
            )

        wait_until(ready, "the replica to be in sync and known to the sentinels", 60)

    def wait_for_failover(self, timeout: float = 60.0) -> None:
        """Until every sentinel names the replica, and it takes writes."""
        wait_until(
            lambda: (
                all(
                    node.admin().sentinel_get_master_addr_by_name(SERVICE)
                    == ("127.0.0.1", self.replica.port)
                    for node in self.sentinels
                    if node.alive()
                )
                and self.replica.admin().role()[0] == "master"
            ),
            "the sentinels to promote the replica",
            timeout,
        )


def _settled(primary: RedisProcess, replica: RedisProcess, sentinels: list[RedisProcess]) -> bool:
    if replica.admin().info("replication").get("master_link_status") != "up":
        return False
    for node in sentinels:
        state = node.admin().sentinel_master(SERVICE)
        assert isinstance(state, dict)
        if state["num-other-sentinels"] < len(sentinels) - 1 or state["num-slaves"] < 1:
            return False
    return True


@contextlib.contextmanager
def sentinel_deployment(directory: Path, *, proxied: bool = True) -> Iterator[SentinelDeployment]:
    """The deployment above; with `proxied` false, nothing goes through the proxy (a benchmark
    wants no Python in the path)."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is needed for the Sentinel tests")
    started: list[RedisProcess] = []
    parties: dict[int, str] = {}
    try:
        primary = start_redis(directory)
        started.append(primary)
        with FaultProxy(primary.address, lambda: dict(parties)) as proxy:
            front = proxy.port if proxied else primary.port
            replica = start_redis(directory, f"replicaof 127.0.0.1 {front}")
            started.append(replica)
            parties[replica.process.pid] = "replica"
            monitor = [
                f"sentinel monitor {SERVICE} 127.0.0.1 {front} 2",
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
                # Long: Sentinel would otherwise point the replica past the proxy after it.
                f"sentinel failover-timeout {SERVICE} 60000",
                f"sentinel parallel-syncs {SERVICE} 1",
            ]
            sentinels = [start_redis(directory, *monitor, sentinel=True) for _ in range(3)]
            started += sentinels
            for node in sentinels:
                parties[node.process.pid] = "sentinel"
            wait_until(lambda: _settled(primary, replica, sentinels), "the sentinels to settle")
            yield SentinelDeployment(primary, replica, sentinels, proxy, parties)
    finally:
        for node in started:
            node.kill()
