"""Redis bytes per blacklisted token: `INFO memory` around 100,000 real RedisBlacklist.add calls."""

from __future__ import annotations

import asyncio
import secrets

from redis.asyncio import Redis

from bench.infra import throwaway_redis
from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.client import RedisFailures
from revocation.domain.model import BlacklistEntry, TokenKey

_BATCH = 1000


async def _used_memory(client: Redis) -> int:
    info = await client.info("memory")
    return int(info["used_memory"])


async def _fill(url: str, entries: int) -> int:
    client = Redis.from_url(url)
    blacklist = RedisBlacklist(client, RedisFailures())
    try:
        await client.ping()
        before = await _used_memory(client)
        for start in range(0, entries, _BATCH):
            batch = [
                # Like our tokens: a 22-character jti and an issuer (the key holds their digest).
                BlacklistEntry(TokenKey("bench", secrets.token_urlsafe(16)), 3600)
                for _ in range(start, min(start + _BATCH, entries))
            ]
            await blacklist.add(batch)
        if await client.dbsize() != entries:
            raise RuntimeError("the blacklist did not store one key per entry")
        return await _used_memory(client) - before
    finally:
        await client.aclose()


def redis_bytes_per_token(entries: int = 100_000) -> float:
    """On a throwaway redis-server, so nothing else moves `used_memory`."""
    with throwaway_redis() as url:
        return asyncio.run(_fill(url, entries)) / entries
