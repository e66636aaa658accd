"""The blacklist in Redis: one expiring key per blocked (iss, jti), one per user's watermark
(the layout is in `client`). A lookup is one MGET; in a Cluster, one MGET per slot of its keys,
sent to their nodes at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster

from revocation.adapters.redis.client import (
    BLOCKED,
    MIRROR_DONE,
    PENDING,
    KeyLayout,
    RedisClient,
    RedisFailures,
    unavailable_on_error,
)
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry, BlacklistState, TokenKey, Watermark
from revocation.domain.ports import Blacklist

_MICROSECONDS = 1_000_000

# Raises the watermark only when the new one is higher, so it never goes back in time. Sent with
# EVAL, not register_script: inside a pipeline redis-py precedes EVALSHA with a SCRIPT EXISTS
# round trip, and Redis caches the compiled EVAL body by its SHA anyway.
_RAISE_WATERMARK = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return 1
end
return 0
"""


class RedisBlacklist:
    """The `Blacklist` port on Redis: per-entry TTLs, a watermark that only rises.

    With a `complete_marker` (the mirror marker's key, where Redis may answer alone), each
    lookup reads it in the same MGET and reports the mirror complete when it says `done`.
    """

    def __init__(
        self,
        client: RedisClient,
        failures: RedisFailures,
        *,
        keys: KeyLayout = KeyLayout(),  # noqa: B008 - a frozen value
        complete_marker: bytes | None = None,
    ) -> None:
        self._client = client
        self._failures = failures
        self.keys = keys
        self._marker = complete_marker

    def lookup_keys(self, key: TokenKey, user_id: int) -> list[bytes]:
        """The keys one lookup reads, in the order `state_from` expects their values."""
        keys = [self.keys.token_key(key), self.keys.watermark_key(user_id)]
        if self._marker is not None:
            keys.append(self._marker)
        return keys

    async def read(self, keys: list[bytes]) -> list[bytes | None]:
        """The keys' values in one round trip (one MGET)."""
        with unavailable_on_error(self._failures):
            if isinstance(self._client, RedisCluster):  # the keys may live on several nodes
                values = await self._client.mget_nonatomic(keys)
            else:
                values = await self._client.mget(keys)
        # A reply of another shape (a connection out of step after a fault) is no answer: never
        # a 500, and never cached as one.
        if not isinstance(values, list) or len(values) != len(keys):
            raise BlacklistUnavailable(f"redis: MGET of {len(keys)} keys answered {type(values)}")
        read = [value for value in values if value is None or isinstance(value, bytes)]
        if len(read) != len(keys):
            raise BlacklistUnavailable("redis: MGET answered something other than strings")
        return read

    def state_from(self, user_id: int, values: Sequence[bytes | None]) -> BlacklistState:
        """What the values of `lookup_keys` say."""
        blocked, micros = values[0], values[1]
        try:
            watermark = None if micros is None else Watermark(user_id, int(micros) / _MICROSECONDS)
        except ValueError as error:
            raise BlacklistUnavailable(f"redis: unreadable watermark {micros!r}") from error
        complete = len(values) > 2 and values[2] == MIRROR_DONE
        return BlacklistState(
            token_blocked=blocked is not None and not blocked.startswith(PENDING),
            watermark=watermark,
            complete=complete,
            token_pending=blocked is not None and blocked.startswith(PENDING),
        )

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        return self.state_from(user_id, await self.read(self.lookup_keys(key, user_id)))

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        await self._set_each(entries, BLOCKED)

    @asynccontextmanager
    async def revoking(self, entries: Sequence[BlacklistEntry]) -> AsyncIterator[None]:
        yield
        await self.add(entries)

    async def mark_pending(self, entries: Sequence[BlacklistEntry], mark: bytes) -> bool:
        """Set the entries' keys to `mark` (PENDING and something unique to the caller), never
        over a value already there, each for its entry's TTL, in one round trip. True when
        every key took the mark."""
        replies = await self._set_each(entries, mark, nx=True)
        return all(reply is True for reply in replies)

    async def replace_marks(self, entries: Sequence[BlacklistEntry], mark: bytes) -> bool:
        """Add the entries, like `add`; True when every key still held `mark` until then: no
        flush, restart or expiry removed it meanwhile (only its writer ever writes a mark)."""
        replies = await self._set_each(entries, BLOCKED, get=True)
        return bool(replies) and all(reply == mark for reply in replies)

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:  # a watermark living 0 s is no watermark; `EX 0` is an error
            return
        pipeline = self._client.pipeline(transaction=False)
        micros = round(watermark.revoked_before * _MICROSECONDS)
        key = self.keys.watermark_key(watermark.user_id)
        pipeline.eval(_RAISE_WATERMARK, 1, key, micros, ttl_seconds)
        await self._execute(pipeline)

    async def _set_each(
        self,
        entries: Sequence[BlacklistEntry],
        value: bytes,
        *,
        nx: bool = False,
        get: bool = False,
    ) -> list[object]:
        """SET each entry's key to `value` for its TTL, in one pipeline; the replies."""
        pipeline = self._client.pipeline(transaction=False)
        for entry in entries:
            if entry.ttl_seconds > 0:  # already expired: nothing left to block
                key = self.keys.token_key(entry.key)
                pipeline.set(key, value, ex=entry.ttl_seconds, nx=nx, get=get)
        return await self._execute(pipeline)

    async def _execute(self, pipeline: Pipeline | ClusterPipeline) -> list[object]:
        """Send every queued command in one write, then read the replies: one round trip."""
        with unavailable_on_error(self._failures):
            replies: list[object] = await pipeline.execute()
        return replies


_: type[Blacklist] = RedisBlacklist
