"""The blacklist answered from process memory, kept coherent by Redis tracking invalidations.

Each Redis value a lookup reads (the token's entry, its user's watermark, the mirror marker) is
kept here until Redis says it changed. Two rules make a cached answer as good as a Redis read:
- Lease: a cached value is used only while the tracking connection has answered a PING sent
  within the last `lease_seconds`; Redis queues a write's invalidation before the reply to any
  PING it reads after that write, so every write acknowledged before that PING was sent has
  reached this cache. A writer waits `lease_seconds` after Redis acknowledged its write before
  answering, so a request that starts after a logout returned can only be served from a cache
  whose lease began after the write (docs/decisions.md). Every instance must use the same L.
  A logout waits less in all: it first marks its token pending ("ask the log"), and its lease
  runs from that mark while the log commits.
- Generation: a value read from Redis is kept only if no invalidation, flush or reconnection
  arrived while the read was in flight; an invalidation can overtake the reply it concerns.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from revocation.adapters.redis.client import PENDING, KeyLayout, outlive_leases
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry, BlacklistState, TokenKey, Watermark
from revocation.domain.ports import Blacklist

_MISSING = object()


class InvalidationFeed(Protocol):
    """What the cache needs of the tracking listener (`tracking.TrackingListener`)."""

    @property
    def generation(self) -> int: ...

    def lease_valid(self) -> bool: ...

    def subscribe(self, on_invalidate: Callable[[Sequence[bytes] | None], None]) -> None: ...


class RedisReads(Protocol):
    """What the cache needs of the blacklist in Redis (`blacklist.RedisBlacklist`)."""

    def lookup_keys(self, key: TokenKey, user_id: int) -> list[bytes]: ...

    async def read(self, keys: list[bytes]) -> list[bytes | None]: ...

    def state_from(self, user_id: int, values: Sequence[bytes | None]) -> BlacklistState: ...

    async def add(self, entries: Sequence[BlacklistEntry]) -> None: ...

    async def mark_pending(self, entries: Sequence[BlacklistEntry], mark: bytes) -> bool: ...

    async def replace_marks(self, entries: Sequence[BlacklistEntry], mark: bytes) -> bool: ...

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None: ...

    @property
    def keys(self) -> KeyLayout: ...


class LocallyCachedBlacklist:
    """The `Blacklist` port: RedisBlacklist's answers, cached while the lease holds."""

    def __init__(
        self,
        redis: RedisReads,
        feed: InvalidationFeed,
        *,
        lease_seconds: float,
        max_entries: int = 100_000,
    ) -> None:
        self._redis = redis
        self._feed = feed
        self._lease = lease_seconds
        self._max_entries = max_entries
        self._values: dict[bytes, bytes | None] = {}
        feed.subscribe(self._invalidate)

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        keys = self._redis.lookup_keys(key, user_id)
        if self._feed.lease_valid():
            cached = [self._values.get(k, _MISSING) for k in keys]
            if _MISSING not in cached:
                return self._redis.state_from(user_id, cached)  # type: ignore[arg-type]
        generation = self._feed.generation
        values = await self._redis.read(keys)
        if self._feed.generation == generation:  # nothing could have changed them meanwhile
            self._keep(keys, values)
        return self._redis.state_from(user_id, values)

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        await self._redis.add(entries)
        acknowledged = time.monotonic()
        self._forget([self._redis.keys.token_key(entry.key) for entry in entries])
        await outlive_leases(acknowledged, self._lease)

    @asynccontextmanager
    async def revoking(self, entries: Sequence[BlacklistEntry]) -> AsyncIterator[None]:
        """Pending mark, the durable block inside, the entries; the lease runs from the mark
        when the mark held until the entries replaced it.

        From the mark's acknowledgement until the entries' write, the keys hold the mark (the
        entries' write checks it was still there). A cache whose lease began after the mark
        holds no older value of these keys, so it reads the mark (and asks the log, committed
        before this returns) or the entry: the lease wait overlaps the log's commit instead of
        following it. If the mark was refused, or gone by then (a flush or restart let a cache
        read the key's absence meanwhile), the lease runs from the entries' write instead.
        """
        keys = [self._redis.keys.token_key(entry.key) for entry in entries]
        mark = PENDING + secrets.token_hex(8).encode()  # no one else ever writes this value
        try:
            marked = time.monotonic() if await self._redis.mark_pending(entries, mark) else None
        except BlacklistUnavailable:
            marked = None  # the block still goes to the log; the entries' write decides the rest
        self._forget(keys)
        yield
        mark_held = await self._redis.replace_marks(entries, mark)
        acknowledged = time.monotonic()
        self._forget(keys)
        lease_from = marked if marked is not None and mark_held else acknowledged
        await outlive_leases(lease_from, self._lease)

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        await self._redis.raise_watermark(watermark, ttl_seconds)
        acknowledged = time.monotonic()
        self._forget([self._redis.keys.watermark_key(watermark.user_id)])
        await outlive_leases(acknowledged, self._lease)

    def __len__(self) -> int:
        return len(self._values)

    def _keep(self, keys: Sequence[bytes], values: Sequence[bytes | None]) -> None:
        if len(self._values) + len(keys) > self._max_entries:
            self._values.clear()  # rare, and only costs Redis reads until it refills
        self._values.update(zip(keys, values, strict=True))

    def _forget(self, keys: Sequence[bytes]) -> None:
        for key in keys:
            self._values.pop(key, None)

    def _invalidate(self, keys: Sequence[bytes] | None) -> None:
        if keys is None:
            self._values.clear()
        else:
            self._forget(keys)


_: type[Blacklist] = LocallyCachedBlacklist
