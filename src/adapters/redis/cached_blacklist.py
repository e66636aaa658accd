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

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from revocation.adapters.redis.client import PENDING, Identities, KeyLayout, outlive_leases
from revocation.adapters.redis.coalesced_reads import CoalescedReads
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import (
    BlacklistEntry,
    BlacklistState,
    LoggedEntry,
    TokenKey,
    Watermark,
)
from revocation.domain.ports import Blacklist

_MISSING = object()


class InvalidationFeed(Protocol):
    """What the cache needs of the tracking connection(s) (`tracking.TrackingListener`, one per
    primary in a cluster)."""

    @property
    def generation(self) -> int: ...

    def node_of(self, key: bytes) -> bytes | None:
        """The run id of the node whose invalidations of `key` this process receives."""
        ...

    def trusted_node(self, key: bytes) -> bytes | None:
        """That node's run id while its lease holds and it is still named the primary."""
        ...

    def trusted_nodes(self, first: bytes, second: bytes) -> tuple[bytes | None, bytes | None]:
        """`trusted_node` of each key, asked together: a token's check asks for two."""
        ...

    def accepts_write(self, key: bytes, node: bytes) -> bool:
        """Whether a write of `key` that `node` took reached the one primary."""
        ...

    def subscribe(self, on_invalidate: Callable[[Sequence[bytes] | None], None]) -> None: ...


class RedisReads(Protocol):
    """What the cache needs of the blacklist in Redis (`blacklist.RedisBlacklist`)."""

    def lookup_keys(self, key: TokenKey, user_id: int) -> list[bytes]: ...

    async def read_identified(self, keys: list[bytes]) -> tuple[list[bytes | None], Identities]: ...

    @staticmethod
    def vouched(values: Sequence[bytes | None], primaries: tuple[bytes, bytes] | None) -> bool: ...

    def state_from(
        self, user_id: int, values: Sequence[bytes | None], *, complete: bool
    ) -> BlacklistState: ...

    async def add_identified(self, entries: Sequence[BlacklistEntry]) -> Identities: ...

    async def mark_pending(self, entries: Sequence[BlacklistEntry], mark: bytes) -> bool: ...

    async def replace_marks(
        self, entries: Sequence[BlacklistEntry], mark: bytes
    ) -> tuple[bool, Identities]: ...

    async def raise_watermark_identified(
        self, watermark: Watermark, ttl_seconds: int
    ) -> Identities: ...

    async def distrust(self, keys: Sequence[bytes]) -> None: ...

    async def note_logged(self, entries: Sequence[LoggedEntry]) -> None: ...

    @property
    def keys(self) -> KeyLayout: ...


class LocallyCachedBlacklist:
    """The `Blacklist` port: RedisBlacklist's answers, cached while the lease holds, trusted
    alone only as read from the primaries the tracking connections vouch for."""

    def __init__(
        self,
        redis: RedisReads,
        feed: InvalidationFeed,
        *,
        lease_seconds: float,
        max_entries: int = 100_000,
        cluster: bool = False,
    ) -> None:
        self._redis = redis
        # The reads of the checks that must ask Redis (cold tokens) go together; on a Cluster,
        # one that failed is tried again per check, so one node fails only its own keys' reads.
        self._reads = CoalescedReads(redis.read_identified, isolate_failures=cluster)
        self._feed = feed
        self._lease = lease_seconds
        self._max_entries = max_entries
        self._values: dict[bytes, bytes | None] = {}
        # The states the cached values gave, per token, with the primaries they were read from:
        # a token checked again and again is answered by one lookup and the lease's checks.
        # Emptied whenever a cached value goes or changes, so a state never outlives its values.
        self._states: dict[tuple[str, str, int], _KnownState] = {}
        feed.subscribe(self._invalidate)

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        # Keyed by the pair's strings, whose hashes Python keeps: `TokenKey`'s own hash is
        # computed anew by a Python method at every lookup.
        known = self._states.get((key.issuer, key.jti, user_id))
        if known is not None:
            token_key, watermark_key, read_from, state = known
            if self._feed.trusted_nodes(token_key, watermark_key) == read_from:
                return state  # the lease holds, on the primaries the values came from
        keys = self._redis.lookup_keys(key, user_id)  # the token's, the watermark's, markers
        token_node, watermark_node = self._feed.trusted_nodes(keys[0], keys[1])
        primaries = (token_node, watermark_node) if token_node and watermark_node else None
        if primaries is not None:
            cached = [self._values.get(k, _MISSING) for k in keys]
            if _MISSING not in cached:
                values: list[bytes | None] = cached  # type: ignore[assignment]
                complete = self._redis.vouched(values, primaries)
                state = self._redis.state_from(user_id, values, complete=complete)
                self._remember(key, user_id, (keys[0], keys[1], primaries, state))
                return state
        generation = self._feed.generation
        values, served = await self._reads.read(keys)
        # Only what the tracked node served can be kept, and only if no invalidation, flush or
        # reconnection came in meanwhile (one can overtake the reply it concerns).
        if self._feed.generation == generation and all(
            served[k] == self._feed.node_of(k) for k in keys
        ):
            self._keep(keys, values)
        # A fresh read answers alone only as read from the primaries trusted for its keys.
        complete = (
            primaries is not None
            and (served[keys[0]], served[keys[1]]) == primaries
            and self._redis.vouched(values, primaries)
        )
        return self._redis.state_from(user_id, values, complete=complete)

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        served = await self._redis.add_identified(entries)
        acknowledged = time.monotonic()
        self._forget(list(served))
        await outlive_leases(acknowledged, self._lease)
        await self._check_primaries(served)

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
        mark_held, served = await self._redis.replace_marks(entries, mark)
        acknowledged = time.monotonic()
        self._forget(keys)
        lease_from = marked if marked is not None and mark_held else acknowledged
        await outlive_leases(lease_from, self._lease)
        await self._check_primaries(served)

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        served = await self._redis.raise_watermark_identified(watermark, ttl_seconds)
        acknowledged = time.monotonic()
        self._forget(list(served))
        await outlive_leases(acknowledged, self._lease)
        await self._check_primaries(served)

    async def note_logged(self, entries: Sequence[LoggedEntry]) -> None:
        """No lease wait: a logged mark is a fact that never changes while it lives, and a cache
        that still holds its absence only asks the log once more."""
        await self._redis.note_logged(entries)
        self._forget([self._redis.keys.logged_key(entry.key) for entry in entries])

    def __len__(self) -> int:
        return len(self._values)

    async def _check_primaries(self, served: Identities) -> None:
        """After the lease wait: the writes reached the one primary of their keys, or the
        revocation is not done (a node cut off from the deployment may still take writes), and
        their buckets are not vouched for until a repair (on whichever node holds them now)."""
        astray = [key for key, node in served.items() if not self._feed.accepts_write(key, node)]
        if astray:
            with contextlib.suppress(BlacklistUnavailable):
                await self._redis.distrust(astray)
            raise BlacklistUnavailable("redis: a write went to a node not confirmed primary")

    def _keep(self, keys: Sequence[bytes], values: Sequence[bytes | None]) -> None:
        if len(self._values) + len(keys) > self._max_entries:
            self._values.clear()  # rare, and only costs Redis reads until it refills
            self._states.clear()
        elif any(self._values.get(k, v) != v for k, v in zip(keys, values, strict=True)):
            self._states.clear()  # a newer value than a state was made of
        self._values.update(zip(keys, values, strict=True))

    def _remember(self, key: TokenKey, user_id: int, known: _KnownState) -> None:
        if len(self._states) >= self._max_entries:
            self._states.clear()
        self._states[(key.issuer, key.jti, user_id)] = known

    def _forget(self, keys: Sequence[bytes]) -> None:
        forgotten = [self._values.pop(key, _MISSING) for key in keys]
        if any(value is not _MISSING for value in forgotten):
            self._states.clear()  # states are made of cached values only: one of them went

    def _invalidate(self, keys: Sequence[bytes] | None) -> None:
        if keys is None:
            self._values.clear()
            self._states.clear()
        else:
            self._forget(keys)


# A token's remembered state: its entry's and its user's watermark's keys, the primaries
# (run ids) their values were read from, and the state the values gave.
_KnownState = tuple[bytes, bytes, tuple[bytes, bytes], BlacklistState]


_: type[Blacklist] = LocallyCachedBlacklist
