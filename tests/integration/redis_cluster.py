"""A throwaway three-master Redis Cluster of local `redis-server` processes on loopback ports.

Nothing here touches the shared Redis on 6379: each node is a process of our own, with its
files in a temporary directory, stopped (and reaped) when the tests are done.
"""

from __future__ import annotations

import contextlib
import functools
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from redis import Redis as SyncRedis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from tests.integration.fault_proxy import FaultProxy
from tests.integration.redis_processes import RedisProcess, start_redis, wait_until
from tests.integration.servers import unavailable

CLUSTER_BUS_OFFSET = 10_000  # Redis talks to its peers on port + 10000
NODES = 3


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(count: int = NODES) -> list[int]:
    """Ports whose cluster-bus twin is free too (below the kernel's ephemeral range)."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20_000, 29_999)
        if port not in ports and _bindable(port) and _bindable(port + CLUSTER_BUS_OFFSET):
            ports.append(port)
    return ports


def _node_command(port: int, directory: Path) -> list[str]:
    return [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
        "--save", "", "--appendonly", "no", "--dir", str(directory),
        "--logfile", str(directory / f"redis-{port}.log"),
    ]  # fmt: skip


def _wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
            if predicate():
                return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _answers(port: int, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:  # e.g. another process took the port since we probed it
        raise RuntimeError(f"redis-server on {port} exited with {process.returncode}")
    with SyncRedis(port=port, socket_timeout=1, retry=Retry(NoBackoff(), 0)) as node:
        return bool(node.ping())


def _cluster_ok(port: int) -> bool:
    with SyncRedis(port=port, socket_timeout=1) as node:
        return bool(node.cluster("info")["cluster_state"] == "ok")


@dataclass(frozen=True)
class Cluster:
    ports: list[int]
    processes: dict[int, subprocess.Popen[bytes]]  # by port: a test may stop or freeze one

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"  # any node: the client learns the rest


@contextlib.contextmanager
def three_master_cluster(directory: Path) -> Iterator[Cluster]:
    """A fresh cluster whose 16384 slots are split over three masters."""
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        unavailable("redis-server and redis-cli are needed for the Redis Cluster tests")
    ports = free_cluster_ports()
    nodes = [subprocess.Popen(_node_command(port, directory)) for port in ports]
    try:
        for port, node in zip(ports, nodes, strict=True):
            _wait_until(functools.partial(_answers, port, node), f"node {port}")
        addresses = [f"127.0.0.1:{port}" for port in ports]
        create = ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0"]
        subprocess.run(
            [*create, "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for port in ports:
            _wait_until(functools.partial(_cluster_ok, port), f"cluster_state:ok on {port}")
        yield Cluster(ports=ports, processes=dict(zip(ports, nodes, strict=True)))
    finally:
        for node in nodes:
            node.send_signal(signal.SIGCONT)  # a frozen node could not handle SIGTERM
            node.terminate()
        for node in nodes:
            try:
                node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()


NODE_TIMEOUT_MS = 2000  # how soon a primary that stopped answering is failed over


@dataclass
class ReplicatedCluster:
    """Three primaries with a replica each. The first primary sits behind a `FaultProxy` (it
    announces the proxy's port, so its replica and every client reach it through the proxy),
    and `parties` names the processes the proxy tells apart."""

    primaries: list[RedisProcess]
    replicas: list[RedisProcess]  # replicas[i] replicates primaries[i]
    proxy: FaultProxy
    parties: dict[int, str]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.primaries[1].port}/0"  # any node: clients learn the rest

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url, "REDIS_CLUSTER": "true"}

    def wait_for_failover(self, index: int, timeout: float = 60.0) -> None:
        """Until replica `index` serves its primary's slots and the cluster is whole."""
        replica = self.replicas[index]

        def promoted() -> bool:
            with replica.admin() as admin:
                role = admin.role()[0]
                state = admin.cluster("info")["cluster_state"]
            return bool(role == "master" and state == "ok")

        wait_until(promoted, f"replica {replica.port} to take over", timeout)


def _cluster_node(directory: Path, port: int, *announced: str) -> RedisProcess:
    options = [
        "cluster-enabled yes",
        f"cluster-config-file nodes-{port}.conf",
        f"cluster-node-timeout {NODE_TIMEOUT_MS}",
        *announced,
    ]
    return start_redis(directory, *options, port=port)


def _whole(nodes: list[RedisProcess], replicas: list[RedisProcess]) -> bool:
    for node in nodes:
        with node.admin() as admin:
            if admin.cluster("info")["cluster_state"] != "ok":
                return False
    for replica in replicas:
        with replica.admin() as admin:
            if admin.info("replication").get("master_link_status") != "up":
                return False
    return True


@contextlib.contextmanager
def replicated_cluster(directory: Path, *, proxied: bool = True) -> Iterator[ReplicatedCluster]:
    """A fresh cluster: three primaries sharing the slots, a replica each, the first primary
    behind a proxy (unless `proxied` is false: a benchmark wants no Python in the path)."""
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        unavailable("redis-server and redis-cli are needed for the Redis Cluster tests")
    ports = free_cluster_ports(2 * NODES)
    parties: dict[int, str] = {}
    started: list[RedisProcess] = []
    try:
        with FaultProxy(("127.0.0.1", ports[0]), lambda: dict(parties)) as proxy:
            announced = [
                "cluster-announce-ip 127.0.0.1",
                f"cluster-announce-port {proxy.port if proxied else ports[0]}",
                f"cluster-announce-bus-port {ports[0] + CLUSTER_BUS_OFFSET}",
            ]
            primaries = [_cluster_node(directory, ports[0], *announced)]
            primaries += [_cluster_node(directory, port) for port in ports[1:NODES]]
            replicas = [_cluster_node(directory, port) for port in ports[NODES:]]
            started += primaries + replicas
            create = ["redis-cli", "--cluster", "create"]
            create += [f"127.0.0.1:{node.port}" for node in primaries]
            subprocess.run([*create, "--cluster-yes"], check=True, capture_output=True, timeout=60)
            for primary, replica in zip(primaries, replicas, strict=True):
                with primary.admin() as admin:
                    primary_id = admin.cluster("myid")
                add = ["redis-cli", "--cluster", "add-node", f"127.0.0.1:{replica.port}"]
                add += [f"127.0.0.1:{primaries[1].port}", "--cluster-slave"]
                add += ["--cluster-master-id", str(primary_id)]
                subprocess.run(add, check=True, capture_output=True, timeout=60)
                parties[replica.process.pid] = f"replica-{primaries.index(primary)}"
            wait_until(lambda: _whole(primaries + replicas, replicas), "the cluster to form")
            yield ReplicatedCluster(primaries, replicas, proxy, parties)
    finally:
        for node in started:
            node.kill()


def move_slot(slot: int, source: RedisProcess, target: RedisProcess) -> None:
    """Migrate `slot` with its keys, the way `redis-cli --cluster reshard` does."""
    with source.admin() as src, target.admin() as dst, SyncRedis(port=source.port) as binary:
        source_id, target_id = src.cluster("myid"), dst.cluster("myid")
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while keys := binary.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            binary.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
        for node in (dst, src):
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
