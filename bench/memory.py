"""Memory per token: Redis bytes per blacklisted token and per logged token (`INFO memory`
around real RedisBlacklist writes), and a process's bytes per logged token held in the local
cache (`tracemalloc` around real lookups)."""

from __future__ import annotations

import asyncio
import secrets
import tracemalloc
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from bench.infra import throwaway_redis
from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.cached_blacklist import LocallyCachedBlacklist
from revocation.adapters.redis.client import KeyLayout, RedisFailures
from revocation.adapters.redis.tracking import FixedPrimary, TrackingListener
from revocation.domain.model import BlacklistEntry, LoggedEntry, LoggedMark, TokenKey

_BATCH = 1000
_FIRST_USER = 1_000_000_000  # a user id of ten digits, as a large user base has


async def _used_memory(client: Redis) -> int:
    info = await client.info("memory")
    return int(info["used_memory"])


def _key() -> TokenKey:
    # Like our tokens: a 22-character jti and an issuer (the key holds their digest).
    return TokenKey("bench", secrets.token_urlsafe(16))


def _logged(key: TokenKey, user_id: int) -> LoggedEntry:
    return LoggedEntry(key, LoggedMark(user_id, 1_800_000_000.123456), 3600)


async def _fill(
    url: str, entries: int, write: Callable[[RedisBlacklist, int], Awaitable[None]]
) -> int:
    client = Redis.from_url(url)
    blacklist = RedisBlacklist(client, RedisFailures(), full_mirror=True)
    try:
        await client.ping()
        before, keys_before = await _used_memory(client), await client.dbsize()
        for start in range(0, entries, _BATCH):
            await write(blacklist, min(_BATCH, entries - start))
        if await client.dbsize() - keys_before != entries:
            raise RuntimeError("the blacklist did not store one key per entry")
        return await _used_memory(client) - before
    finally:
        await client.aclose()


async def _blocked(blacklist: RedisBlacklist, count: int) -> None:
    await blacklist.add([BlacklistEntry(_key(), 3600) for _ in range(count)])


async def _marked(blacklist: RedisBlacklist, count: int) -> None:
    await blacklist.note_logged([_logged(_key(), _FIRST_USER + n) for n in range(count)])


def redis_bytes_per_token(entries: int = 100_000) -> tuple[float, float]:
    """(per blacklisted token, per logged token), each on a throwaway redis-server of its own,
    so nothing else moves `used_memory`."""
    figures = []
    for write in (_blocked, _marked):
        with throwaway_redis() as url:
            figures.append(asyncio.run(_fill(url, entries, write)) / entries)
    return figures[0], figures[1]


async def _cached_lookups(url: str, tokens: int) -> int:
    client, failures = Redis.from_url(url), RedisFailures()
    redis = RedisBlacklist(client, failures, full_mirror=True)
    listener = TrackingListener(
        url,
        failures,
        primary=FixedPrimary(url),
        prefixes=KeyLayout().tracked_prefixes,
        lease_seconds=1.0,
    )
    cache = LocallyCachedBlacklist(redis, listener, lease_seconds=1.0, max_entries=10 * tokens)
    keys = [(_key(), _FIRST_USER + n) for n in range(tokens)]  # a user each: the worst case
    await listener.start()
    try:
        await redis.note_logged([_logged(key, user) for key, user in keys])
        for key, user in keys[:1]:  # the shared markers, cached once for all
            await cache.lookup(key, user)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for key, user in keys[1:]:
            await cache.lookup(key, user)
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        if len(cache) < 3 * (tokens - 1):
            raise RuntimeError("the local cache did not keep what it read")
        return used
    finally:
        await listener.stop()
        await client.aclose()


def process_bytes_per_logged_token(tokens: int = 20_000) -> float:
    """What one logged token adds to a process's local cache once checked: its entry's
    absence, its logged mark and its user's watermark absence (Python objects and dict slots)."""
    with throwaway_redis() as url:
        return asyncio.run(_cached_lookups(url, tokens)) / (tokens - 1)
