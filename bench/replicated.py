"""`python -m bench.replicated`: the fast path on a replicated Redis, in one run: the service
(REVOCATION_CACHE=local) on one Redis, on Sentinel (a primary, a replica, three sentinels) and on
a Cluster (three primaries with a replica each), next to the hand-written reference; logout
latency with the replica wait on; then, per topology, the time from a primary's death until the
fast path serves again. The topologies are the tests' own (`redis-server` processes started
here, removed after); nothing touches the shared Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
from redis.crc import key_slot

from bench import hot_path, logout_latency, report, seed
from bench.hot_path import BLACKLISTED, VALID
from bench.infra import (
    App,
    app_process,
    free_port,
    migrate,
    own_database,
    reference_command,
    require_tool,
    service_command,
    service_env,
    throwaway_redis,
)
from bench.run import _machine
from bench.targets import LOGOUT_P99_MS
from revocation.adapters.redis.client import KeyLayout
from revocation.entrypoints.http.health import PROBE_KEY
from tests.integration.redis_cluster import ReplicatedCluster, replicated_cluster
from tests.integration.redis_sentinel import SentinelDeployment, sentinel_deployment

SINGLE, SENTINEL, CLUSTER = "service, one Redis", "service, Sentinel", "service, Cluster"
# Where replicas exist, each logout also waits for one (the setting's bound: 100 ms).
REPLICA_WAIT = {"REDIS_WAIT_REPLICAS": "1"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.replicated", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5, help="per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per row; medians shown")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--rows", type=int, default=100_000, help="seeded token-log rows")
    parser.add_argument("--tokens", type=int, default=100, help="distinct tokens per load run")
    parser.add_argument("--logouts", type=int, default=300, help="timed logouts per app")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a Postgres URL allowed to CREATE/DROP DATABASE (env BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--database", default="revocation_bench_ha", help="dropped and recreated")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    require_tool("wrk")
    started = time.monotonic()
    print(_machine())
    with (
        tempfile.TemporaryDirectory() as directory,
        throwaway_redis() as redis_url,
        own_database(args.admin_url, args.database) as db_url,
        sentinel_deployment(_subdirectory(directory, "sentinel"), proxied=False) as sentinel,
        replicated_cluster(_subdirectory(directory, "cluster"), proxied=False) as cluster,
    ):
        env = service_env(db_url, redis_url)
        migrate(env)
        asyncio.run(seed.bulk_rows(db_url, args.rows))
        tokens = seed.issue_tokens(env, args.tokens)
        to_log_out = {
            label: seed.logged_tokens(env, logout_latency.WARM_UP_LOGOUTS + args.logouts, base)
            for label, base in ((SENTINEL, 5_000_000), (CLUSTER, 6_000_000), (SINGLE, 7_000_000))
        }
        topologies = {
            SINGLE: {"REDIS_URL": redis_url},
            SENTINEL: {**_without_url(sentinel.env()), **REPLICA_WAIT},
            CLUSTER: {**cluster.env(), **REPLICA_WAIT},
        }
        with _apps(env, topologies) as apps:
            for label in topologies:
                _wait_for_fast_path(apps[label])
            cases = [c for c in hot_path.cases(tokens.valid, tokens.revoked) if c.tokens]
            load = {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections}
            setup = f"granian, 1 worker, wrk -t1 -c{args.connections}"
            print(f"\nReplicated Redis, fast path ({setup}, {args.rounds} x {args.seconds:g} s)")
            figures = hot_path.measure([(apps[k], c) for c in cases for k in apps], **load)
            print(report.hot_path_table(figures))
            print(
                "\nLogout latency (local mode: lease wait; Sentinel and Cluster: + WAIT 1 replica)"
            )
            latencies = {
                label: logout_latency.measure(
                    apps[label], tokens_, load_tokens=tokens.valid, concurrency=8, connections=8
                )
                for label, tokens_ in to_log_out.items()
            }
            print(logout_latency.latency_table(latencies))
            print("\nFailover: from a primary's death to the fast path serving again")
            failovers = {
                SENTINEL: _sentinel_failover(sentinel, apps[SENTINEL]),
                CLUSTER: _cluster_failover(cluster, apps[CLUSTER]),
            }
            for label, (promoted, serving) in failovers.items():
                print(
                    f"  {label}: replica promoted after {promoted:.1f} s, fast path {serving:.1f} s"
                )
    print("\nTargets")
    print(report.verdicts_table(_verdicts(figures, latencies)))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    return 0


def _subdirectory(parent: str, name: str) -> Path:
    path = Path(parent) / name
    path.mkdir()
    return path


def _without_url(env: Mapping[str, str]) -> dict[str, str]:
    """Sentinel names the primary: the service's REDIS_URL (the single Redis's) must go."""
    return {**env, "REDIS_URL": ""}


@contextlib.contextmanager
def _apps(
    env: dict[str, str], topologies: Mapping[str, Mapping[str, str]]
) -> Iterator[dict[str, App]]:
    with contextlib.ExitStack() as stack:
        apps = {}
        port = free_port()
        command = reference_command(port, "granian", 1)
        apps[report.REFERENCE] = stack.enter_context(
            app_process(report.REFERENCE, command, env, port)
        )
        for label, redis in topologies.items():
            port = free_port()
            command = service_command(port, "granian", 1)
            process_env = {**env, **redis, "REVOCATION_CACHE": "local"}
            apps[label] = stack.enter_context(app_process(label, command, process_env, port))
        yield apps


def _fast_path(app: App) -> bool:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        checks = httpx.get(f"{app.base_url}/health/ready", timeout=2).json()["checks"]
        return bool(checks.get("fast_path") == "on")
    return False


def _wait_for_fast_path(app: App, within: float = 120.0) -> float:
    started = time.monotonic()
    while not _fast_path(app):
        if time.monotonic() - started > within:
            raise RuntimeError(f"{app.label}: the fast path did not come on in {within:g} s")
        time.sleep(0.05)
    return time.monotonic() - started


def _sentinel_failover(deployment: SentinelDeployment, app: App) -> tuple[float, float]:
    """Seconds from the primary's death to the replica's promotion, and to the fast path."""
    deployment.primary.kill()
    died = time.monotonic()
    while _fast_path(app):  # the probe notices the death
        time.sleep(0.01)
    deployment.wait_for_failover()
    promoted = time.monotonic() - died
    _wait_for_fast_path(app)
    return promoted, time.monotonic() - died


def _cluster_failover(cluster: ReplicatedCluster, app: App) -> tuple[float, float]:
    """The shard of the readiness probe's keys: the one whose loss turns the fast path off."""
    shard = _probe_shard(cluster)
    cluster.primaries[shard].kill()
    died = time.monotonic()
    while _fast_path(app):  # the probe notices the death
        time.sleep(0.01)
    cluster.wait_for_failover(shard)
    promoted = time.monotonic() - died
    _wait_for_fast_path(app)
    return promoted, time.monotonic() - died


def _probe_shard(cluster: ReplicatedCluster) -> int:
    slot = key_slot(KeyLayout().token_key(PROBE_KEY))
    with cluster.primaries[1].admin() as admin:
        for first, last, owner, *_ in admin.cluster("slots"):
            if int(first) <= slot <= int(last):
                ports = [node.port for node in cluster.primaries]  # not proxied here
                return ports.index(int(owner[1]))
    raise RuntimeError("no shard serves the probe's slot")


def _verdicts(
    figures: Mapping[tuple[str, str], hot_path.Figures],
    latencies: Mapping[str, logout_latency.LogoutLatency],
) -> list[report.Verdict]:
    verdicts = []
    for label in (SENTINEL, CLUSTER):
        for case in (VALID, BLACKLISTED):
            ours, single = figures[(label, case)], figures[(SINGLE, case)]
            reference = figures[(report.REFERENCE, case)]
            verdicts += [
                report.Verdict(
                    f"{label}, {case}: throughput >= 0.9x one Redis",
                    ours.rps >= 0.9 * single.rps,
                    f"{ours.rps / single.rps:.2f}x ({ours.rps:,.0f} vs {single.rps:,.0f} req/s)",
                ),
                report.Verdict(
                    f"{label}, {case}: p99 <= reference p99",
                    ours.p99_ms <= reference.p99_ms,
                    f"{ours.p99_ms:.2f} vs {reference.p99_ms:.2f} ms",
                ),
            ]
        p99 = latencies[label].p99_ms
        verdicts.append(
            report.Verdict(
                f"{label}: logout p99 (replica wait included) <= {LOGOUT_P99_MS} ms",
                p99 <= LOGOUT_P99_MS,
                f"{p99:.1f} ms",
            )
        )
    return verdicts


if __name__ == "__main__":
    raise SystemExit(main())
