"""`python -m bench`: set up, measure, print the tables and the targets' PASS/FAIL.

Everything it starts is its own and is removed after: a throwaway redis-server for the apps and
another for the memory figure, a database (default `revocation_bench`) on the Postgres server of
--admin-url, the app processes. It never touches another database or the shared Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import time
from collections.abc import Iterator, Sequence
from itertools import product
from typing import Any
from urllib.parse import urlsplit

from bench import hot_path, logout_all, memory, report, seed
from bench.infra import (
    REPO,
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
from bench.proxy import ProxyThread
from entrypoints import asgi_server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5, help="per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per row; medians shown")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--server", choices=asgi_server.SERVERS, default=asgi_server.DEFAULT_SERVER)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rows", type=int, default=100_000, help="seeded token-log rows")
    parser.add_argument("--tokens", type=int, default=100, help="distinct tokens per load run")
    parser.add_argument("--sizes", default="1,10,100,1000,10000", help="logout-all N values")
    parser.add_argument("--memory-entries", type=int, default=100_000)
    parser.add_argument("--skip-servers", action="store_true", help="no ASGI server comparison")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a Postgres URL allowed to CREATE/DROP DATABASE (env BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--database", default="revocation_bench", help="dropped and recreated")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    require_tool("wrk")
    started = time.monotonic()
    print(_machine())
    redis_bytes = memory.redis_bytes_per_token(args.memory_entries)
    with throwaway_redis() as redis_url, own_database(args.admin_url, args.database) as db_url:
        env = service_env(db_url, redis_url)
        migrate(env)
        asyncio.run(seed.bulk_rows(db_url, args.rows))
        table_bytes, table_rows = asyncio.run(seed.table_size(db_url))
        tokens = seed.issue_tokens(env, args.tokens)
        all_cases = hot_path.cases(tokens.valid, tokens.revoked)
        load = {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections}
        setup = f"{args.server}, {args.workers} worker(s), wrk -t1 -c{args.connections}"
        print(f"\nHot path ({setup}, {args.rounds} x {args.seconds:g} s, medians)")
        with _apps(env, args.server, args.workers) as apps:
            figures = hot_path.measure(apps, all_cases, **load)
        service = hot_path.by_label(figures, report.SERVICE)
        reference = hot_path.by_label(figures, report.REFERENCE)
        print(report.hot_path_table(service, reference))
        if not args.skip_servers:
            print(f"\nASGI servers, the service alone ({args.rounds} x {args.seconds:g} s)")
            print(report.servers_table(_servers(env, all_cases[1], load, args.server)))
        sizes = [int(size) for size in args.sizes.split(",")]
        print(f"\nLogout-all (lgt-all over HTTP; {args.server}; medians of {args.rounds})")
        scaling = list(_scaling(env, db_url, redis_url, args, sizes))
        print(report.scaling_table(scaling))
        print(report.SCALING_NOTES)
        print(report.commands_line(scaling))
    print("\nMemory")
    print(f"  Redis: {redis_bytes:.1f} bytes per blacklisted token (INFO used_memory delta)")
    per_row = table_bytes / table_rows
    print(f"  Postgres: {per_row:.0f} bytes per logged token (table+indexes, {table_rows:,} rows)")
    print("\nTargets")
    print(report.verdicts_table(report.verdicts(service, reference, scaling, redis_bytes)))
    load_average = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\n(total {time.monotonic() - started:.0f} s; load average at the end {load_average})")
    return 0


@contextlib.contextmanager
def _apps(env: dict[str, str], server: str, workers: int) -> Iterator[list[App]]:
    """The service (`revocation serve`) and the reference, on the same server settings."""
    with contextlib.ExitStack() as stack:
        apps = []
        for label, command in (
            (report.SERVICE, service_command),
            (report.REFERENCE, reference_command),
        ):
            port = free_port()
            apps.append(
                stack.enter_context(app_process(label, command(port, server, workers), env, port))
            )
        yield apps


def _servers(
    env: dict[str, str], case: hot_path.Case, load: dict[str, Any], default: str
) -> dict[str, hot_path.Figures]:
    """The service under each server and worker count, all started, measured in turns."""
    with contextlib.ExitStack() as stack:
        apps = []
        variants: list[tuple[str, str, int, dict[str, str]]] = [
            (f"{server}, {workers} worker{'s' * (workers > 1)}", server, workers, env)
            for server, workers in product(asgi_server.SERVERS, (1, 2))
        ]
        # What the observability middlewares cost (request ids stay: they cannot be turned off).
        quiet = {**env, "METRICS_ENABLED": "false"}
        variants.append((f"{default}, 1 worker, METRICS_ENABLED=false", default, 1, quiet))
        for label, server, workers, variant_env in variants:
            port = free_port()
            command = service_command(port, server, workers)
            apps.append(stack.enter_context(app_process(label, command, variant_env, port)))
        figures = hot_path.measure(apps, [case], **load)
    return {app: value for (app, _), value in figures.items()}


def _scaling(
    env: dict[str, str], db_url: str, redis_url: str, args: argparse.Namespace, sizes: list[int]
) -> Iterator[logout_all.Scaling]:
    db_port = urlsplit(db_url).port or 5432
    redis_port = urlsplit(redis_url).port or 6379
    proxies = ProxyThread(db_port, redis_port)
    with proxies as (proxy_db, proxy_redis), contextlib.ExitStack() as stack:
        proxied_db = _with_port(db_url, proxy_db) + "?sslmode=disable"
        proxied_redis = _with_port(redis_url, proxy_redis)
        counted_env = {**env, "DATABASE_URL": proxied_db, "REDIS_URL": proxied_redis}
        urls = []
        for process_env in (env, counted_env):
            port = free_port()
            command = service_command(port, args.server, 1)
            urls.append(stack.enter_context(app_process("lgt-all", command, process_env, port)))
        targets = logout_all.Targets(
            timed_url=urls[0].base_url,
            counted_url=urls[1].base_url,
            env=env,
            database_url=db_url,
            redis_url=redis_url,
            proxied_database_url=proxied_db,
            proxied_redis_url=proxied_redis,
        )
        yield from logout_all.measure(targets, proxies, sizes, args.rounds)


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    host = f"{netloc[0]}@127.0.0.1:{port}" if netloc[1] else f"127.0.0.1:{port}"
    return parts._replace(netloc=host).geturl()


def _machine() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        models = [
            line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
        ]
    cpu = models[0] if models else platform.processor()
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    load_average = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"Machine: {os.cpu_count()} CPUs, {cpu}; load {load_average}; commit {commit or '?'}"
