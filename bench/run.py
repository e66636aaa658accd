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

from bench import (
    hot_path,
    invalidation_lag,
    logout_all,
    logout_latency,
    memory,
    report,
    seed,
)
from bench import targets as verdicts
from bench.infra import (
    CACHE_MODES,
    REPO,
    App,
    app_process,
    bare_command,
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
from revocation.entrypoints import asgi_server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5, help="per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per row; medians shown")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--server", choices=asgi_server.SERVERS, default=asgi_server.DEFAULT_SERVER)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rows", type=int, default=100_000, help="seeded token-log rows")
    parser.add_argument("--tokens", type=int, default=100, help="distinct tokens per load run")
    parser.add_argument(
        "--cold-tokens",
        type=int,
        default=40_000,
        help="distinct tokens of the cold row (default 40,000: more than the verified-token "
        "cache's 10,000 and the local cache's 100,000 values, about 33,000 tokens)",
    )
    parser.add_argument("--sizes", default="1,10,100,1000,10000", help="logout-all N values")
    parser.add_argument("--memory-entries", type=int, default=100_000)
    parser.add_argument("--skip-servers", action="store_true", help="no ASGI server comparison")
    parser.add_argument(
        "--modes", default=",".join(CACHE_MODES), help="REVOCATION_CACHE modes of the service rows"
    )
    parser.add_argument("--logouts", type=int, default=300, help="timed logouts per mode")
    parser.add_argument("--logout-concurrency", type=int, default=8, help="logouts in flight")
    parser.add_argument("--probe-rate", type=float, default=200, help="lag probes per second")
    parser.add_argument(
        "--load-connections",
        type=int,
        default=8,
        help="wrk connections on the valid-token route beside the logouts and lag probes "
        "(default 8: at 32 a logout's every await queues behind 32 busy connections)",
    )
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
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not modes or set(modes) - set(CACHE_MODES):
        raise SystemExit(f"bench: --modes takes some of {', '.join(CACHE_MODES)}")
    require_tool("wrk")
    started = time.monotonic()
    print(_machine())
    redis_bytes, logged_bytes = memory.redis_bytes_per_token(args.memory_entries)
    process_bytes = memory.process_bytes_per_logged_token(min(args.memory_entries, 20_000))
    with throwaway_redis() as redis_url, own_database(args.admin_url, args.database) as db_url:
        env = service_env(db_url, redis_url)
        migrate(env)
        asyncio.run(seed.bulk_rows(db_url, args.rows))
        table_bytes, table_rows = asyncio.run(seed.table_size(db_url))
        tokens = seed.issue_tokens(env, args.tokens)
        cold = seed.cold_tokens(env, args.cold_tokens, _COLD_USERS)
        per_mode = logout_latency.WARM_UP_LOGOUTS + args.logouts
        to_log_out = {
            mode: seed.logged_tokens(env, per_mode, _LOGOUT_USERS + number * per_mode)
            for number, mode in enumerate(modes)
        }
        all_cases = hot_path.cases(tokens.valid, tokens.revoked, cold)
        load = {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections}
        with _apps(db_url, redis_url, args.server, args.workers, modes) as apps:
            figures = _hot_path(apps, all_cases, redis_url, args, load)
            latencies = _logout_latencies(apps, to_log_out, tokens.valid, args)
            if report.DEFAULT_MODE in modes:
                _invalidation_lag(apps[report.DEFAULT_MODE], redis_url, tokens.valid, args)
        if not args.skip_servers:
            title = "the service alone, its default cache mode"
            print(f"\nASGI servers, {title} ({args.rounds} x {args.seconds:g} s)")
            print(report.servers_table(_servers(env, all_cases[1], load, args.server)))
        sizes = [int(size) for size in args.sizes.split(",")]
        mode = "default cache mode: local waits the lease before answering"
        print(f"\nLogout-all (lgt-all over HTTP; {args.server}; {mode}; medians of {args.rounds})")
        scaling = list(_scaling(env, db_url, redis_url, args, sizes))
        print(report.scaling_table(scaling))
        print(report.SCALING_NOTES)
        print(report.commands_line(scaling))
    print("\nMemory")
    print(f"  Redis: {redis_bytes:.1f} bytes per blacklisted token (INFO used_memory delta)")
    per_row = table_bytes / table_rows
    print(f"  Postgres: {per_row:.0f} bytes per logged token (table+indexes, {table_rows:,} rows)")
    print(f"  Redis: {logged_bytes:.1f} bytes per logged token's mark (INFO used_memory delta)")
    print(
        f"  Process: {process_bytes:.0f} bytes per logged token in the local cache once checked "
        "(its entry, mark and user's watermark; tracemalloc); bounded by REVOCATION_CACHE_SIZE"
    )
    print("\nTargets")
    print(report.verdicts_table(_verdicts(figures, modes, latencies, scaling, redis_bytes)))
    load_average = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\n(total {time.monotonic() - started:.0f} s; load average at the end {load_average})")
    return 0


# Users of the tokens the logout-latency runs log out (the load's are at seed.BENCH_USER_BASE).
_LOGOUT_USERS = 3_000_000
_COLD_USERS = 5_000_000


def _hello_mode(modes: Sequence[str]) -> str:
    """The service's hello is measured once, in the default mode if it is among the modes."""
    return report.DEFAULT_MODE if report.DEFAULT_MODE in modes else modes[0]


def _hot_path(
    apps: dict[str, App],
    all_cases: list[hot_path.Case],
    redis_url: str,
    args: argparse.Namespace,
    load: dict[str, Any],
) -> dict[tuple[str, str], hot_path.Figures]:
    setup = f"{args.server}, {args.workers} worker(s), wrk -t1 -c{args.connections}, LOG_LEVEL=INFO"
    print(f"\nHot path ({setup}, {args.rounds} x {args.seconds:g} s, medians)")
    modes = [mode for mode in apps if mode in CACHE_MODES]
    if not hot_path.wait_for_mirror(redis_url, modes):
        print("  (the mirror marker was not set within 30 s: redis/local rows read the database)")
    hello_app = apps[_hello_mode(modes)]
    served = [
        (app, case)
        for case in all_cases
        for app in apps.values()
        if (case.tokens and app.label != report.BARE and _replayed_or_not(app, case))
        or (not case.tokens and app.label in (report.REFERENCE, report.BARE, hello_app.label))
    ]
    pairs = _valid_then_blacklisted(served)
    figures = hot_path.measure(pairs, **load)
    print(report.hot_path_table(figures))
    print("  x ref, p99 / ref: against the reference's row of the same case")
    print(
        f"  cold tokens: {len(all_cases[3].tokens):,} distinct, "
        f"only {hot_path.COLD_SAMPLE} seen before the load"
    )
    return figures


def _valid_then_blacklisted(
    pairs: list[tuple[App, hot_path.Case]],
) -> list[tuple[App, hot_path.Case]]:
    """The same pairs, each app's blacklisted row moved just after its valid row: the targets
    compare the two by their ratio within each round (`hot_path.paired`), so they are measured
    back to back."""
    blacklisted = {
        app.label: (app, case) for app, case in pairs if case.name == hot_path.BLACKLISTED
    }
    ordered = []
    for app, case in pairs:
        if case.name != hot_path.BLACKLISTED:
            ordered.append((app, case))
        if case.name == hot_path.VALID and app.label in blacklisted:
            ordered.append(blacklisted[app.label])
    return ordered


def _replayed_or_not(app: App, case: hot_path.Case) -> bool:
    """The app without the replay watch runs only the cases the watch could change."""
    return app.label != report.REPLAY_OFF or case.name in (hot_path.VALID, hot_path.BLACKLISTED)


def _logout_latencies(
    apps: dict[str, App],
    to_log_out: dict[str, list[str]],
    load_tokens: list[str],
    args: argparse.Namespace,
) -> dict[str, logout_latency.LogoutLatency]:
    print(
        f"\nLogout latency (POST /api/v2/logout of {args.logouts:,} fresh logged tokens per app, "
        f"{args.logout_concurrency} in flight, while wrk -c{args.load_connections} loads the "
        f"valid-token route, after {logout_latency.WARM_UP_LOGOUTS} untimed ones; local mode "
        "includes the lease wait)"
    )
    latencies = {
        mode: logout_latency.measure(
            apps[mode],
            tokens,
            load_tokens=load_tokens,
            concurrency=args.logout_concurrency,
            connections=args.load_connections,
        )
        for mode, tokens in to_log_out.items()
    }
    print(logout_latency.latency_table({apps[m].label: f for m, f in latencies.items()}))
    return latencies


def _invalidation_lag(
    app: App, redis_url: str, load_tokens: list[str], args: argparse.Namespace
) -> None:
    print(
        f"\nInvalidation lag ({app.label}: SET of a probe key to its invalidation handled, "
        f"{args.probe_rate:g}/s for {args.seconds:g} s while wrk -c{args.load_connections} loads "
        "the valid-token route)"
    )
    lag = invalidation_lag.measure(
        app,
        redis_url,
        load_tokens=load_tokens,
        connections=args.load_connections,
        seconds=args.seconds,
        rate=args.probe_rate,
    )
    print(invalidation_lag.lag_table(app.label, lag))
    print(f"  from the histogram {invalidation_lag.LAG_METRIC} of GET /metrics: bucket")
    print('  resolution ("<= 2 ms": in the bucket up to 2 ms), not exact values')


def _verdicts(
    figures: dict[tuple[str, str], hot_path.Figures],
    modes: Sequence[str],
    latencies: dict[str, logout_latency.LogoutLatency],
    scaling: Sequence[logout_all.Scaling],
    redis_bytes: float,
) -> list[report.Verdict]:
    result = []
    for mode in ("off", report.DEFAULT_MODE):
        if mode in modes:
            result += verdicts.versus_reference(figures, mode)
    if report.DEFAULT_MODE in modes:
        hello = report.service_label(_hello_mode(modes))
        local = report.DEFAULT_MODE
        result += verdicts.near_zero(figures, local, hello, latencies.get(local))
        result += verdicts.gateway(figures, local, report.BARE)
        result += verdicts.replay_watch(figures, local, report.REPLAY_OFF)
    return result + verdicts.logout_all_and_memory(scaling, redis_bytes)


@contextlib.contextmanager
def _apps(
    db_url: str, redis_url: str, server: str, workers: int, modes: Sequence[str]
) -> Iterator[dict[str, App]]:
    """The reference and the service in each cache mode, on the same server settings; keyed by
    mode (the reference by its label). Only REVOCATION_CACHE differs between the services."""
    with contextlib.ExitStack() as stack:
        apps = {}
        variants = [(report.REFERENCE, reference_command, service_env(db_url, redis_url))]
        variants += [(report.BARE, bare_command, service_env(db_url, redis_url))]
        variants += [
            (mode, service_command, service_env(db_url, redis_url, cache=mode)) for mode in modes
        ]
        if report.DEFAULT_MODE in modes:  # the replay watch's cost: the same app without it
            env = service_env(db_url, redis_url, cache=report.DEFAULT_MODE)
            variants += [(report.REPLAY_OFF, service_command, {**env, "REPLAY_POLICY": "off"})]
        for key, command, env in variants:
            port = free_port()
            labels = (report.REFERENCE, report.BARE, report.REPLAY_OFF)
            label = key if key in labels else report.service_label(key)
            process = app_process(label, command(port, server, workers), env, port)
            apps[key] = stack.enter_context(process)
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
        figures = hot_path.measure([(app, case) for app in apps], **load)
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
