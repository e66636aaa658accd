"""How the service talks to Redis: the client and its bounds, what counts as Redis failing, and
what is stored under which key. Every module of this package builds on this one alone.

Layout (version 3): keys fall into 512 buckets, each a Cluster hash tag, so a bucket lives on
one node, moves with its slot, and carries its own mirror marker:
  `rv{t3f}<12-byte digest of (iss, jti)>` = "1"  (a blocked pair, in bucket t3f: the digest's
      first byte; never the token text), or "?<16 hex digits>" while a logout commits to the
      log (the local cache's pending mark, unique to that logout: ask the log)
  `rv{t3f}L<the same digest>` = "<user id>:<issue time>" (a logged token, in its pair's bucket;
      lives until its row may be purged: only ever a true fact of the log)
  `rv{w2a}42` = user 42's watermark in integer microseconds (bucket w2a: 42 mod 256)
  `rv{t3f}:mirror` (`:mirror:full` where Redis answers alone) = the bucket's marker: a repair's
      ticket, "done:<run id of the primary that completed the repair>", or "distrusted" (a
      write there may not survive a failover, or went to a node not confirmed primary)
A blocked pair's key names no user: a block refuses every token carrying the pair, whichever
user it names (docs/decisions.md). A marker vouches for its bucket only on the primary whose run
id it carries: a promoted replica, a restarted node, or a slot moved to another node has
another one, so it is trusted again only after a repair (docs/decisions.md). A 19-byte key fits
one allocation: about 118 bytes per blocked token in all (Redis 7.0, `make bench`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, overload

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import TokenKey

RedisClient = Redis | RedisCluster
Identities = dict[bytes, bytes]  # key -> the run id of the node that served (or took) it
HEALTH_CHECK_INTERVAL_SECONDS = 30
BLOCKED = b"1"
PENDING = b"?"  # prefixes a pending mark: a logout is committing the block; ask the log
MIRROR_DONE = b"done:"  # + the run id of the primary on which a full repair completed
DISTRUSTED = b"distrusted"  # a marker after a write that may not survive a failover
BUCKETS = 256  # per kind (tokens, watermarks): enough slots to spread a Cluster's load
_DIGEST_BYTES = 12  # 96 bits: a collision needs ~2^48 blocked tokens
_TAG_BYTES = len(b"{t00}")


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """Timeouts and the connection pool's bounds."""

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
    use. Close it with `await client.aclose()`."""
    connection = {
        "socket_timeout": options.socket_timeout,
        "socket_connect_timeout": options.connect_timeout,
        # Set explicitly, never inherited: redis-py 8's `Redis(...)` default is 10 retries with
        # exponential backoff (its `from_url` default differs, and both have changed between
        # releases), and a dead Redis must not stall requests the database can answer. One
        # immediate retry on a connection error still replaces a pooled connection the server has
        # closed (every command we send is idempotent); a timeout is not retried, since the
        # handshake and the command would each wait again: 4 x socket_timeout, measured.
        "retry": Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,)),
        # A connection idle this long is PINGed before use: one extra round trip, rarely.
        "health_check_interval": HEALTH_CHECK_INTERVAL_SECONDS,
        # Keys are binary digests and values are "1" or integer microseconds: no decoding.
        "decode_responses": False,
    }
    if cluster:
        # redis-py's cluster client has no blocking pool: past `max_connections` per node it
        # raises MaxConnectionsError, which counts as Redis being unavailable.
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


class RedisFailures:
    """How often Redis failed this process, as any adapter here or the tracking connection saw
    it. Each failure may have lost a write (or Redis may have come back empty), so the repair
    loop repairs whenever the count moved since its last complete repair."""

    def __init__(self) -> None:
        self.seen = 0
        self._data_lost = asyncio.Event()

    def note(self) -> None:
        self.seen += 1

    def note_data_lost(self) -> None:
        """Redis certainly lost what it held: flushed, or another node (another run id) serves.
        Unlike a timeout under load, this is worth a repair at once (the failure itself is
        noted as any other, by whoever lost the connection or the data)."""
        self._data_lost.set()

    async def next_data_loss(self, within: float) -> None:
        """Until a loss is noted (since the last call), or `within` seconds passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._data_lost.wait()
        self._data_lost.clear()


@contextlib.contextmanager
def unavailable_on_error(failures: RedisFailures) -> Iterator[None]:
    """Any Redis failure inside becomes BlacklistUnavailable, and is counted."""
    try:
        yield
    except REDIS_FAILURES as error:
        failures.note()
        raise BlacklistUnavailable(f"redis: {type(error).__name__}: {error}") from error


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """The keys of the layout above, under `prefix`."""

    prefix: bytes = b"rv"

    def token_key(self, key: TokenKey) -> bytes:
        digest = hashlib.sha256(key.material()).digest()[:_DIGEST_BYTES]
        return b"%s{t%02x}%s" % (self.prefix, digest[0], digest)

    def logged_key(self, key: TokenKey) -> bytes:
        """One byte longer than the pair's entry: no entry's key is ever a logged one's."""
        return self.logged_key_of(self.token_key(key))

    def logged_key_of(self, token_key: bytes) -> bytes:
        """`logged_key`, from the pair's entry key (the digest computed once)."""
        tag_end = len(self.prefix) + _TAG_BYTES
        return token_key[:tag_end] + b"L" + token_key[tag_end:]

    def watermark_key(self, user_id: int) -> bytes:
        return b"%s{w%02x}%d" % (self.prefix, user_id % BUCKETS, user_id)

    def marker_of(self, data_key: bytes, *, full: bool) -> bytes:
        """The marker of the bucket `data_key` is in. A full mirror (Redis answering alone)
        has its own: a repair for the database-checked flow pushes shorter-lived entries."""
        tag_end = data_key.index(b"}") + 1
        return data_key[:tag_end] + (b":mirror:full" if full else b":mirror")

    def markers(self, *, full: bool) -> list[bytes]:
        """Every bucket's marker."""
        suffix = b":mirror:full" if full else b":mirror"
        return [
            b"%s{%s%02x}%s" % (self.prefix, kind, bucket, suffix)
            for kind in (b"t", b"w")
            for bucket in range(BUCKETS)
        ]

    @property
    def tracked_prefixes(self) -> tuple[bytes, ...]:
        """Every key above starts with one of these (tracking broadcasts their changes)."""
        return (self.prefix + b"{", self.prefix + b":")


# Lua: the run id of the node running the script. It changes when a node restarts, and a
# promoted replica has its own: what tells the primary that took a write or served a read.
RUN_ID_LUA = "string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')"


def vouched_by(marker: bytes | None, primary: bytes) -> bool:
    """Whether a bucket's marker says a full repair completed on `primary` (its run id)."""
    return marker == MIRROR_DONE + primary


def vouched(marker: bytes | None) -> bool:
    """Whether a bucket's marker says a full repair completed, on whichever primary: the word
    of one Redis that never fails over or restarts from a snapshot (REVOCATION_CACHE=redis)."""
    return marker is not None and marker.startswith(MIRROR_DONE)


async def outlive_leases(acknowledged: float, lease_seconds: float) -> None:
    """Return once every local cache's lease postdates a write Redis acknowledged at
    `acknowledged` (the readers' side of the lease is the tracking connection's).

    By the monotonic clock the readers use, plus a margin: uvloop's timers round to whole
    milliseconds and may fire up to one early.
    """
    deadline = acknowledged + lease_seconds + _TIMER_MARGIN_SECONDS
    while (remaining := deadline - time.monotonic()) > 0:  # noqa: ASYNC110 - a deadline, no event
        await asyncio.sleep(remaining)


_TIMER_MARGIN_SECONDS = 0.002
