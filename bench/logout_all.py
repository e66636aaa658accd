"""Logout-all scaling: one `POST /api/v2/lgt-all` for a user with N tokens, against a naive loop.

Times come from a service process with direct connections; counts from a second service process
whose DATABASE_URL and REDIS_URL point at counting proxies (bench.proxy), plus the Redis server's
own `INFO commandstats` delta. Nothing is counted by the adapters themselves.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from urllib.parse import urlsplit

import asyncpg
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from bench.proxy import Counts, ProxyThread
from bench.seed import user_with_tokens
from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.client import RedisFailures
from revocation.adapters.throttle_kept import KEEP_SECONDS
from revocation.domain.model import TokenKey

_users = count(2_000_000)
NAIVE_TIMED_UP_TO = 1000
_UNBLOCKED = "SELECT count(*) FROM user_token_logs WHERE user_id = $1 AND blocked_at IS NULL"


@dataclass(frozen=True)
class Scaling:
    """One size N: medians of the times, counts of one counted run."""

    tokens: int
    service_ms: float  # until the response
    blocked_ms: float  # until every row is blocked (the background's UPDATE committed)
    service_db: Counts
    service_redis: Counts
    redis_commandstats: int  # the Redis server's own count (INFO commandstats delta)
    naive_ms: float
    naive_through_proxies: bool  # timed only in its counted run (large N: it takes seconds)
    naive_db: Counts
    naive_redis: Counts


def next_user() -> int:
    return next(_users)


def lgt_all(base_url: str, env: Mapping[str, str], user_id: int) -> float:
    """One lgt-all over a fresh connection; milliseconds from request to complete response."""
    parts = urlsplit(base_url)
    body = json.dumps({"user_id": user_id, "app_id": env["APP_ID"], "app_key": env["APP_KEY"]})
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.connect()
        started = time.perf_counter()
        connection.request("POST", "/api/v2/lgt-all", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"lgt-all answered {response.status}")
    return elapsed


async def naive_logout_all(
    database_url: str, redis_url: str, user_id: int, on_connected: Callable[[], object] = int
) -> float:
    """One UPDATE and one SET per token, as a hand-written loop would; returns milliseconds."""
    connection = await asyncpg.connect(database_url)
    redis = Redis.from_url(redis_url)
    keys = RedisBlacklist(redis, RedisFailures())
    try:
        await redis.ping()  # connected, handshake done: only the loop is counted
        on_connected()
        started = time.perf_counter()
        now = datetime.now(UTC)
        rows = await connection.fetch(
            "SELECT id, iss, jti FROM user_token_logs WHERE user_id = $1 AND blocked_at IS NULL",
            user_id,
        )
        for row in rows:
            await connection.execute(
                "UPDATE user_token_logs SET blocked_at = $1 WHERE id = $2", now, row["id"]
            )
            await redis.set(keys.keys.token_key(TokenKey(row["iss"], row["jti"])), 1, ex=3600)
        return (time.perf_counter() - started) * 1000
    finally:
        await connection.close()
        await redis.aclose()


async def service_logout_all(
    database_url: str, base_url: str, env: Mapping[str, str], user_id: int
) -> tuple[float, float]:
    """(ms until lgt-all answered, ms until the background's UPDATE blocked every row)."""
    connection = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        answered = await asyncio.to_thread(lgt_all, base_url, env, user_id)
        while await connection.fetchval(_UNBLOCKED, user_id):  # noqa: ASYNC110 - polls the server
            await asyncio.sleep(0.002)
        return answered, (time.perf_counter() - started) * 1000
    finally:
        await connection.close()


@dataclass
class _Marks:
    """Snapshots of the counters, taken when the naive loop has connected."""

    proxies: ProxyThread
    taken: list[tuple[Counts, Counts]] = field(default_factory=list)

    def __call__(self) -> None:
        self.taken.append((self.proxies.postgres.snapshot(), self.proxies.redis.snapshot()))


def _settle(counts: Sequence[Counts], quiet: float = 0.2) -> None:
    """Wait until the counters have not moved for `quiet` seconds."""
    last = [c.snapshot() for c in counts]
    while True:
        time.sleep(quiet)
        now = [c.snapshot() for c in counts]
        if now == last:
            return
        last = now


# The bench's own traffic to the same server: connecting, asking; and the local cache's
# tracking connections (both service processes ping every few ms; their lease's ping is a ROLE,
# which also says whether the node is still a primary).
_NOT_THE_SERVICE = (
    "cmdstat_info",
    "cmdstat_hello",
    "cmdstat_client|setinfo",
    "cmdstat_ping",
    "cmdstat_role",
    "cmdstat_client|tracking",
)


def commandstats_total(client: SyncRedis) -> int:
    """Commands the Redis server has executed, except the benchmark's own."""
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in _NOT_THE_SERVICE)


@dataclass(frozen=True)
class Targets:
    """Where the timed and the counted service processes and the data live."""

    timed_url: str
    counted_url: str
    env: Mapping[str, str]
    database_url: str
    redis_url: str
    proxied_database_url: str
    proxied_redis_url: str


def measure(
    targets: Targets, proxies: ProxyThread, sizes: Sequence[int], rounds: int
) -> Iterator[Scaling]:
    """For each N: `rounds` timed logout-alls (fresh users) and one counted, service and naive."""
    seed = targets.database_url
    stats = SyncRedis.from_url(targets.redis_url)
    for warm_up in (targets.timed_url, targets.counted_url):  # connections, prepared statements
        lgt_all(warm_up, targets.env, next_user())
    _settle([proxies.postgres, proxies.redis], quiet=1.0)  # the start-up blacklist repair
    for tokens in sizes:
        service_ms, blocked_ms, naive_ms = [], [], []
        for _ in range(rounds):
            user = next_user()
            asyncio.run(user_with_tokens(seed, user, tokens))
            answered, blocked = asyncio.run(
                service_logout_all(seed, targets.timed_url, targets.env, user)
            )
            service_ms.append(answered)
            blocked_ms.append(blocked)
        for _ in range(rounds if tokens <= NAIVE_TIMED_UP_TO else 0):  # slow by design
            user = next_user()
            asyncio.run(user_with_tokens(seed, user, tokens))
            naive_ms.append(asyncio.run(naive_logout_all(seed, targets.redis_url, user)))
        user = next_user()
        asyncio.run(user_with_tokens(seed, user, tokens))
        before = (proxies.postgres.snapshot(), proxies.redis.snapshot())
        stats_before = commandstats_total(stats)
        asyncio.run(service_logout_all(seed, targets.counted_url, targets.env, user))
        # Quiet for longer than the lgt-all brake keeps a success's reservation: it is given
        # back (one more EVAL) that long after the answer, whatever N. A shorter wait counted
        # it only where the rows took long to block, the largest N.
        _settle([proxies.postgres, proxies.redis], quiet=KEEP_SECONDS + 0.3)
        service = (proxies.postgres.since(before[0]), proxies.redis.since(before[1]))
        stats_delta = commandstats_total(stats) - stats_before
        user = next_user()
        asyncio.run(user_with_tokens(seed, user, tokens))
        marks = _Marks(proxies)
        counted_ms = asyncio.run(
            naive_logout_all(targets.proxied_database_url, targets.proxied_redis_url, user, marks)
        )
        _settle([proxies.postgres, proxies.redis])
        yield Scaling(
            tokens=tokens,
            service_ms=statistics.median(service_ms),
            blocked_ms=statistics.median(blocked_ms),
            service_db=service[0],
            service_redis=service[1],
            redis_commandstats=stats_delta,
            naive_ms=statistics.median(naive_ms) if naive_ms else counted_ms,
            naive_through_proxies=not naive_ms,
            naive_db=proxies.postgres.since(marks.taken[0][0]),
            naive_redis=proxies.redis.since(marks.taken[0][1]),
        )
    stats.close()
