"""`python -m bench.fleet_cost`: what broadcast tracking costs as the fleet grows.

With REVOCATION_CACHE=local every instance hears every revocation's invalidation (BCAST on the
blacklist's prefixes). Two figures, measured here on a throwaway redis-server:
- one instance's CPU per invalidation: a real `revocation serve` process, idle, while revocation
  keys are SET one by one (as logouts write them), its CPU time (with its worker's) over the
  keys, less the same idle time without writes;
- Redis's CPU per push: the same writes with M tracking connections attached, less with none,
  over the pushes (keys x M).
docs/redis-ha.md turns them into the fleet size and revocation rate past which another mode wins.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import redis

from bench.infra import (
    App,
    app_process,
    free_port,
    migrate,
    own_database,
    service_command,
    service_env,
    throwaway_redis,
)
from bench.run import _machine
from revocation.adapters.redis.client import KeyLayout
from revocation.domain.model import TokenKey

TICKS = os.sysconf("SC_CLK_TCK")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_cost", description=__doc__)
    parser.add_argument("--keys", type=int, default=20_000, help="revocations written per run")
    parser.add_argument("--listeners", type=int, default=50, help="tracking connections (M)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--database", default="revocation_bench_fleet")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    print(_machine())
    with throwaway_redis() as redis_url, own_database(args.admin_url, args.database) as db_url:
        env = service_env(db_url, redis_url, cache="local")
        migrate(env)
        port = free_port()
        with app_process("service", service_command(port, "granian", 1), env, port) as app:
            _wait_until_ready(app)
            instance = _instance_seconds_per_key(app, redis_url, args.keys)
        push = _redis_seconds_per_push(redis_url, args.keys, args.listeners)
    print("\nBroadcast tracking, per revocation")
    print(f"  one instance: {instance * 1e6:.1f} us of CPU per invalidation received")
    print(f"  Redis: {push * 1e6:.2f} us of CPU per invalidation pushed (to each instance)")
    print(
        f"  a fleet of F instances at r revocations/s: each instance spends r x "
        f"{instance * 1e6:.1f} us/s; Redis spends r x F x {push * 1e6:.2f} us/s"
    )
    for fleet, rate in ((10, 100), (100, 100), (100, 1000), (1000, 1000)):
        share = rate * fleet * push
        print(
            f"  F={fleet}, r={rate}/s: Redis {share:.1%} of a core, each instance "
            f"{rate * instance:.2%} of a core"
        )
    return 0


def _wait_until_ready(app: App, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            ready = httpx.get(f"{app.base_url}/health/ready", timeout=2).json()
            if ready["checks"]["fast_path"] == "on":
                return
        if time.monotonic() > deadline:
            raise RuntimeError("the service's fast path did not come on")
        time.sleep(0.1)


def _cpu_seconds(pid: int) -> float:
    """CPU time of the process and its descendants (granian's worker is a child)."""
    total = 0.0
    for process in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return total


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _write(redis_url: str, keys: int, writers: int = 4) -> float:
    """SET `keys` revocation keys, one command at a time on `writers` connections: seconds."""
    layout = KeyLayout()

    def write(part: int) -> None:
        with redis.Redis.from_url(redis_url) as client:
            for index in range(part, keys, writers):
                key = layout.token_key(TokenKey("fleet", f"fleet-{index}"))
                client.set(key, b"1", ex=600)

    started = time.monotonic()
    threads = [threading.Thread(target=write, args=(part,)) for part in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def _instance_seconds_per_key(app: App, redis_url: str, keys: int) -> float:
    pid = app.process.pid
    before = _cpu_seconds(pid)
    elapsed = _write(redis_url, keys)
    busy = _cpu_seconds(pid) - before
    before = _cpu_seconds(pid)
    time.sleep(elapsed)  # the same span idle: what the process spends anyway
    idle = _cpu_seconds(pid) - before
    return max(busy - idle, 0.0) / keys


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@contextlib.contextmanager
def _listeners(redis_url: str, count: int) -> Iterator[None]:
    """`count` raw RESP3 connections with broadcast tracking on, their pushes read and dropped."""
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    hello = b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"
    tracking = (
        b"*7\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n$5\r\nBCAST\r\n"
        b"$6\r\nPREFIX\r\n$3\r\nrv{\r\n$6\r\nNOLOOP\r\n"
    )
    sockets = []
    stop = threading.Event()
    for _ in range(count):
        connection = socket.create_connection((host, int(port)))
        connection.sendall(hello + tracking)
        connection.setblocking(False)
        sockets.append(connection)

    def drain() -> None:
        while not stop.is_set():
            readable, _, _ = select.select(sockets, [], [], 0.1)
            for connection in readable:
                with contextlib.suppress(BlockingIOError):
                    connection.recv(1 << 20)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        time.sleep(0.5)
        yield
    finally:
        stop.set()
        reader.join()
        for connection in sockets:
            connection.close()


def _redis_seconds_per_push(redis_url: str, keys: int, listeners: int) -> float:
    with redis.Redis.from_url(redis_url) as admin:
        before = _redis_cpu(admin)
        _write(redis_url, keys)
        alone = _redis_cpu(admin) - before
        with _listeners(redis_url, listeners):
            before = _redis_cpu(admin)
            _write(redis_url, keys)
            tracked = _redis_cpu(admin) - before
    return max(tracked - alone, 0.0) / (keys * listeners)


if __name__ == "__main__":
    raise SystemExit(main())
