"""The blacklist in Redis: one expiring key per blocked (iss, jti), one per user's watermark.

Layout:
  `rv:t<12-byte digest of (iss, jti)>` = "1"  (a blocked pair; never the token text)
      or "?<16 hex digits>" while a logout commits to the log (the local cache's pending
      mark, unique to that logout: ask the log)
  `rv{42}w` = user 42's watermark in integer microseconds (a float string would round)
A blocked pair's key names no user: a block refuses every token carrying the pair, whichever
user it names (docs/decisions.md), also where Redis answers alone. So in a Cluster a lookup's
two keys may sit on two nodes: one pipeline, sent to both at once (MGET per slot).
A 16-byte key fits one allocation: about 110 bytes per blocked token in all (Redis 7.0).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Literal, overload

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry, BlacklistState, TokenKey, Watermark
from revocation.domain.ports import Blacklist

MIRROR_DONE = b"done"  # the mirror marker's value once a full repair has finished
BLOCKED = b"1"
PENDING = b"?"  # prefixes a pending mark: a logout is committing the block; ask the log

HEALTH_CHECK_INTERVAL_SECONDS = 30
RedisClient = Redis | RedisCluster
_MICROSECONDS = 1_000_000
_DIGEST_BYTES = 12  # 96 bits: a collision, within one user's keys, needs ~2^48 tokens

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


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """How the service talks to Redis: timeouts and the connection pool's bounds."""

    socket_timeout: float
    connect_timeout: float
    # At most this many connections; a command waits up to `pool_timeout` for one (a burst
    # queues; it is not mistaken for an outage).
    max_connections: int
    pool_timeout: float


@overload
def build_redis_client(
    url: str, options: RedisOptions, *, cluster: Literal[False] = False
) -> Redis: ...


@overload
def build_redis_client(
    url: str, options: RedisOptions, *, cluster: Literal[True]
) -> RedisCluster: ...


@overload
def build_redis_client(url: str, options: RedisOptions, *, cluster: bool) -> RedisClient: ...


def build_redis_client(url: str, options: RedisOptions, *, cluster: bool = False) -> RedisClient:
    """A client for `url` (with `cluster`, any node of a Redis Cluster); it connects on first
    use. Close it with `await client.aclose()`.

    In a cluster, each write touches one key, and a lookup's MGET is split by slot.
    """
    connection = {
        "socket_timeout": options.socket_timeout,
        "socket_connect_timeout": options.connect_timeout,
        # Set explicitly, never inherited: redis-py 8's `Redis(...)` default is 10 retries with
        # exponential backoff (its `from_url` default differs, and both have changed between
        # releases), and a dead Redis must not stall requests the database can answer. One
        # immediate retry on a connection error still replaces a pooled connection the server has
        # closed (every command the blacklist sends is idempotent); a timeout is not retried,
        # since the handshake and the command would each wait again: 4 x socket_timeout, measured.
        "retry": Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,)),
        # A connection idle this long is PINGed before use: one extra round trip, rarely.
        "health_check_interval": HEALTH_CHECK_INTERVAL_SECONDS,
        # Keys are binary digests and values are "1" or integer microseconds: no decoding.
        "decode_responses": False,
    }
    if cluster:
        # redis-py's cluster client has no blocking pool: past `max_connections` per node it
        # raises MaxConnectionsError, which the adapters count as Redis being unavailable.
        return RedisCluster.from_url(url, max_connections=options.max_connections, **connection)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=options.max_connections, timeout=options.pool_timeout, **connection
    )
    return Redis.from_pool(pool)


# Everything a Redis call raises when Redis is down, slow or drops the connection. OSError covers
# socket errors and TimeoutError (asyncio.TimeoutError is its alias). RuntimeError: uvloop's
# "unable to perform operation on <TCPTransport closed=True>", which redis-py lets through when
# Redis closes a connection it has just accepted (maxclients reached, a restart); seen in the
# faults race test as a 500.
REDIS_FAILURES: tuple[type[Exception], ...] = (
    RedisError,
    RedisClusterException,
    OSError,
    RuntimeError,
)


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    try:
        yield
    except REDIS_FAILURES as error:
        raise BlacklistUnavailable(f"redis: {type(error).__name__}: {error}") from error


def _digest(key: TokenKey) -> bytes:
    return hashlib.sha256(key.material()).digest()[:_DIGEST_BYTES]


class RedisBlacklist:
    """The `Blacklist` port on Redis: per-entry TTLs, a watermark that only rises.

    With a `complete_marker` (the mirror marker's key, outside a Cluster), each lookup reads it
    in the same MGET and reports the mirror complete when it says `done`.
    """

    def __init__(
        self, client: RedisClient, *, prefix: str = "rv", complete_marker: bytes | None = None
    ) -> None:
        self._client = client
        self._prefix = prefix.encode()
        self._marker = complete_marker

    def token_key(self, key: TokenKey) -> bytes:
        return self._prefix + b":t" + _digest(key)

    def watermark_key(self, user_id: int) -> bytes:
        return self._user_tag(user_id) + b"w"

    def lookup_keys(self, key: TokenKey, user_id: int) -> list[bytes]:
        """The keys one lookup reads, in the order `state_from` expects their values."""
        keys = [self.token_key(key), self.watermark_key(user_id)]
        if self._marker is not None:
            keys.append(self._marker)
        return keys

    async def read(self, keys: list[bytes]) -> list[bytes | None]:
        """The keys' values in one round trip (one MGET)."""
        with _unavailable_on_error():
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
        pipeline.eval(
            _RAISE_WATERMARK, 1, self.watermark_key(watermark.user_id), micros, ttl_seconds
        )
        await self._execute(pipeline)

    def _user_tag(self, user_id: int) -> bytes:
        return b"%s{%d}" % (self._prefix, user_id)

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
                key = self.token_key(entry.key)
                pipeline.set(key, value, ex=entry.ttl_seconds, nx=nx, get=get)
        return await self._execute(pipeline)

    @staticmethod
    async def _execute(pipeline: Pipeline | ClusterPipeline) -> list[object]:
        """Send every queued command in one write, then read the replies: one round trip."""
        with _unavailable_on_error():
            replies: list[object] = await pipeline.execute()
        return replies


_: type[Blacklist] = RedisBlacklist
