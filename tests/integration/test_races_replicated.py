"""The two-instance race test on a replicated Redis, with failovers injected mid-run.

Two `revocation serve` processes (the default fast path: REVOCATION_CACHE=local) share a fresh
database and either a Sentinel deployment (a primary, a replica, three sentinels) or a Cluster
(three primaries with a replica each). Hypothesis programs run as in test_races.py while a
thread keeps breaking Redis, one kind after another:
- Sentinel: the primary killed (then restarted, empty, as a replica); a lagging replica promoted
  (its replication stalled at the proxy while revocations are acknowledged, then the primary
  killed and what it had not received dropped); the tracking connections killed.
- Cluster: a shard's primary killed (then restarted as a replica); shard 0's replica lagging and
  promoted; a shard flushed; slots migrated between shards; tracking killed on a node.
`race_model.judge` allows 503s and counts a revocation that answered 503 as "maybe"; a token
accepted after a logout or logout-all returned 200 is a violation. RACE_HA_OPERATIONS (else
RACE_OPERATIONS, else 3000) sets the size per topology.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.integration.failover_fleet import CREDENTIALS, fleet, killed_tracking
from tests.integration.redis_cluster import ReplicatedCluster, move_slot, replicated_cluster
from tests.integration.redis_processes import RedisProcess
from tests.integration.redis_sentinel import SentinelDeployment, sentinel_deployment
from tests.live_server import LiveServer
from tests.race_model import judge
from tests.race_program import Op, Run, for_each_program
from tests.random_refs import random_user_id

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

OPERATIONS = int(os.environ.get("RACE_HA_OPERATIONS") or os.environ.get("RACE_OPERATIONS", "3000"))
CONCURRENCY = int(os.environ.get("RACE_CONCURRENCY", "16"))
GAP_SECONDS = (0.2, 1.0)  # between two faults


@dataclass
class Traffic:
    run: Run | None = None

    def busy(self) -> bool:
        run = self.run
        return run is not None and run.in_flight > 0


class SentinelFaults:
    kinds = ("failover", "tracking killed")

    def __init__(self, deployment: SentinelDeployment) -> None:
        self.deployment = deployment

    def inject(self, kind: str, rng: random.Random) -> str:
        d = self.deployment
        primary, replica = d.primary, d.replica
        if d.named_primary() != d.proxy.address:
            primary, replica = replica, primary  # the original replica serves now
        if kind == "tracking killed":
            return kind if killed_tracking(primary) else ""
        d.wait_replicated(replica, d.proxy.address if replica is d.primary else replica.address)
        if primary is d.primary:  # behind the proxy: its replica can be made to lag
            d.proxy.stall("replica")
            time.sleep(rng.uniform(0.1, 0.5))  # revocations acknowledged by the primary alone
            primary.kill()
            d.proxy.cut("replica")
            d.proxy.heal("replica")
            wait_for(lambda: d.named_primary() == replica.address, "the replica promoted")
            # As a replica it still announces the proxy: promoted again, it is reached through it.
            primary.restart(
                f"replicaof 127.0.0.1 {replica.port}", f"replica-announce-port {d.proxy.port}"
            )
            return "lagging replica promoted"
        primary.kill()
        wait_for(lambda: d.named_primary() == d.proxy.address, "the first primary back")
        primary.restart()  # its configuration replicates from the proxy
        d.parties[primary.process.pid] = "replica"
        return "primary killed"


class ClusterFaults:
    kinds = ("shard 0 failover", "tracking killed", "shard flushed", "slots moved", "failover")

    def __init__(self, cluster: ReplicatedCluster) -> None:
        self.cluster = cluster
        self.nodes = {node.port: node for node in cluster.primaries + cluster.replicas}

    def primary_of(self, shard: int) -> RedisProcess:
        first, replica = self.cluster.primaries[shard], self.cluster.replicas[shard]
        with replica.admin() as admin:
            return replica if admin.role()[0] == "master" else first

    def inject(self, kind: str, rng: random.Random) -> str:
        c = self.cluster
        if kind == "tracking killed":
            return kind if killed_tracking(self.primary_of(rng.randrange(3))) else ""
        if kind == "shard flushed":
            with self.primary_of(rng.randrange(3)).admin() as admin:
                admin.flushall()
            return kind
        if kind == "slots moved":
            source, target = self.primary_of(1), self.primary_of(2)
            if rng.random() < 0.5:
                source, target = target, source
            with source.admin() as admin:
                owned = [s for s in admin.cluster("slots") if int(s[2][1]) == source.port]
            first = int(owned[0][0])
            for slot in range(first, first + 16):
                move_slot(slot, source, target)
            return kind
        shard = 0 if kind == "shard 0 failover" else rng.randrange(1, 3)
        primary = self.primary_of(shard)
        other = c.replicas[shard] if primary is c.primaries[shard] else c.primaries[shard]
        lagging = primary is c.primaries[0]  # behind the proxy
        # A replica still syncing (a primary restarted by the last fault of this shard) is
        # too stale to take over: Redis Cluster would never promote it.
        wait_for(lambda: in_sync(other), "the replica in sync")
        if lagging:
            c.proxy.stall("replica-0")
            time.sleep(rng.uniform(0.1, 0.5))
        primary.kill()
        if lagging:
            c.proxy.cut("replica-0")
            c.proxy.heal("replica-0")
        wait_for(lambda: role(other) == "master" and cluster_ok(other), "the replica promoted")
        primary.restart()  # rejoins as a replica of the promoted one
        if primary is c.replicas[0]:
            c.parties[primary.process.pid] = "replica-0"
        return "lagging replica promoted" if lagging else "primary killed"


def role(node: RedisProcess) -> str:
    with node.admin() as admin:
        return str(admin.role()[0])


def in_sync(replica: RedisProcess) -> bool:
    with replica.admin() as admin:
        replication = admin.info("replication")
    return bool(
        replication.get("role") == "slave" and replication.get("master_link_status") == "up"
    )


def cluster_ok(node: RedisProcess) -> bool:
    with node.admin() as admin:
        return bool(admin.cluster("info")["cluster_state"] == "ok")


def wait_for(predicate: Callable[[], bool], what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(Exception):
            if predicate():
                return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Injector:
    faults: SentinelFaults | ClusterFaults
    traffic: Traffic
    seed: int = field(default_factory=lambda: random.randrange(2**32))
    injected: Counter[str] = field(default_factory=Counter)
    during_traffic: Counter[str] = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None

    def run(self) -> None:
        try:
            rng = random.Random(self.seed)
            while True:
                kinds = list(self.faults.kinds)
                rng.shuffle(kinds)
                for kind in kinds:
                    if self.stopping.wait(rng.uniform(*GAP_SECONDS)):
                        return
                    busy = self.traffic.busy()
                    if done := self.faults.inject(kind, rng):
                        self.injected[done] += 1
                        self.during_traffic[done] += busy or self.traffic.busy()
        except Exception as error:  # re-raised by the test, which this thread can't fail
            self.error = error


async def run_program(
    servers: list[LiveServer], program: list[Op], users: list[int], traffic: Traffic
) -> Run:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=s.base_url, limits=limits, timeout=30) for s in servers]
    try:
        traffic.run = Run(clients=clients, user_ids=users, credentials=CREDENTIALS)
        await traffic.run.execute(program, CONCURRENCY)
        return traffic.run
    finally:
        traffic.run = None
        for client in clients:
            await client.aclose()


@pytest.fixture(params=["sentinel", "cluster"])
def topology(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[dict[str, str], dict[int, str], SentinelFaults | ClusterFaults]]:
    if request.param == "sentinel":
        with sentinel_deployment(tmp_path) as deployment:
            yield deployment.env(), deployment.parties, SentinelFaults(deployment)
    else:
        with replicated_cluster(tmp_path) as cluster:
            yield cluster.env(), cluster.parties, ClusterFaults(cluster)


def test_no_instance_accepts_a_revoked_token_through_failovers(
    topology: tuple[dict[str, str], dict[int, str], SentinelFaults | ClusterFaults],
    postgres_url: str,
) -> None:
    redis_env, parties, faults = topology
    users = [random_user_id() for _ in range(3)]
    totals: Counter[str] = Counter()
    traffic = Traffic()
    injector = Injector(faults, traffic)
    thread = threading.Thread(target=injector.run, name="redis-faults", daemon=True)
    with fleet(postgres_url, redis_env, parties) as service:
        service.wait_fast_path()

        @for_each_program(OPERATIONS)
        def run_one(program: list[Op]) -> None:
            run = asyncio.run(run_program(service.servers, program, users, traffic))
            verdict = judge(run, allow_unavailable=True)
            shown = verdict.violations[:10]
            assert shown == [], f"{len(verdict.violations)} violations: {shown}"
            totals.update(verdict.outcomes)
            totals["operations"] += len(program)
            totals["peak in flight"] = max(totals["peak in flight"], run.peak_in_flight)

        started = time.monotonic()
        thread.start()
        try:
            run_one()
        finally:
            injector.stopping.set()
            thread.join()
    if injector.error is not None:
        raise injector.error
    print(
        f"\nraces through failovers (seed {injector.seed}): {dict(totals)}; faults "
        f"{dict(injector.injected)}, during traffic {dict(injector.during_traffic)}; "
        f"in {time.monotonic() - started:.1f} s"
    )
    assert totals["operations"] >= OPERATIONS
    assert totals["peak in flight"] >= min(CONCURRENCY, 4)
    assert sum(injector.during_traffic.values()) >= 2, injector.during_traffic
    assert min(totals["logout 401"], totals["validate 401"], totals["validate 200"]) > 0
