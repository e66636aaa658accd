"""Keeps a process-local cache coherent with Redis: client-side caching over our own RESP3 link.

Redis queues a BCAST invalidation on our connection before it sends the write's reply (both in
beforeSleep), so a PING sent after the write was acknowledged is answered after the invalidation
was queued; a PING queued earlier may be answered first. So the lease runs from the ping's send
time, never from the pong's arrival: the pong proves every write acknowledged before it was sent.
The ping is ROLE: the lease also proves the node was a primary then (a demoted one answers
"slave", and the connection is dropped).

The node is known by its run id (read at connect): a restart or a promoted replica is another
node, whose mirror markers vouch for nothing until a repair stamps them (client.KeyLayout). With
replicas, the `primary` (Sentinel, the cluster) must also still name this node: a partition may
leave it answering while another node was promoted.

redis-py's asyncio client has no client-side caching, and no public way to read the keys of
an `invalidate` push (see `resp3`), hence one socket of our own, read by `resp3`.

Each time this connection (re)connects, drops, or sees a flush, whatever happened meanwhile is
unknown: the cache drops everything, and it counts as a Redis failure, so the repair loop
re-fills Redis from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol
from urllib.parse import unquote, urlsplit

from revocation.adapters.redis.client import RedisFailures
from revocation.adapters.redis.resp3 import (
    ErrorReply,
    Frame,
    ProtocolError,
    Push,
    Resp3Parser,
    encode_command,
)

logger = logging.getLogger(__name__)

CLIENT_NAME = b"rv-tracking"
_FIRST_RETRY_SECONDS = 0.05
_LAST_RETRY_SECONDS = 1.0
_READ_BYTES = 65536

Invalidation = Sequence[bytes] | None  # None: drop everything
Address = tuple[str, int]


class Primary(Protocol):
    """Where the primary is, and whether the deployment (Sentinel, the cluster) still names it."""

    @property
    def fails_over(self) -> bool:
        """Whether another node may become the primary (replicas exist)."""
        ...

    async def locate(self) -> Address: ...

    def confirms(self, address: Address) -> bool:
        """Whether `address` was confirmed as the primary recently enough to trust it now."""
        ...

    def superseded(self, address: Address) -> bool:
        """Whether the deployment now names another node than `address` the primary."""
        ...

    def watching(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Keeping the confirmations fresh while inside (polling Sentinel, say)."""
        ...


class FixedPrimary:
    """One Redis without replicas: its URL's address, the primary as long as it answers."""

    fails_over = False

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._address = (parts.hostname or "localhost", parts.port or 6379)

    async def locate(self) -> Address:
        return self._address

    def confirms(self, address: Address) -> bool:
        return True

    def superseded(self, address: Address) -> bool:
        return False

    def watching(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()


_PING = encode_command(b"ROLE")  # answered like a PING, and says whether it is still a primary
_WHO = encode_command(b"INFO", b"server") + _PING


class TrackingListener:
    """Broadcast invalidations for keys under `prefixes`, and a lease on having handled them."""

    def __init__(
        self,
        url: str,
        failures: RedisFailures,
        *,
        primary: Primary,
        prefixes: Sequence[bytes],
        lease_seconds: float,
        ping_interval_seconds: float | None = None,
        connect_timeout: float = 0.5,
        probe_prefix: bytes = b"rv:probe:",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ssl, self._hello = _endpoint(url)
        self._primary = primary
        self._address: Address | None = None
        self._node: bytes | None = None  # the run id of the node connected to
        tracked = _tracked_prefixes(prefixes, probe_prefix)
        self._tracking_on = encode_command(
            b"CLIENT", b"TRACKING", b"ON", b"BCAST", *(a for p in tracked for a in (b"PREFIX", p))
        )
        self._lease = lease_seconds
        self._ping_interval = ping_interval_seconds or lease_seconds / 5
        self._dead_after = max(1.0, 4 * lease_seconds)  # no PONG this long: a frozen server
        self._connect_timeout = connect_timeout
        self._probe_prefix = probe_prefix
        self._monotonic = monotonic
        self._subscribers: list[Callable[[Invalidation], None]] = []
        self._probe_callbacks: list[Callable[[float], None]] = []
        self._generation = 0
        self._connected = False
        self._answered_ping_sent_at: float | None = None
        self._pings_in_flight: deque[float] = deque()  # send times, oldest first
        self._failures = failures
        self._attempts_failed = 0  # in a row
        self._task: asyncio.Task[None] | None = None

    @property
    def generation(self) -> int:
        """Bumped by every invalidation, flush, disconnect and connect: capture it before a
        Redis read and cache the answer only if it is unchanged after."""
        return self._generation

    @property
    def connected(self) -> bool:
        """Connected, and tracking is on."""
        return self._connected

    @property
    def answered_ping_sent_at(self) -> float | None:
        """When (by `monotonic`) the last answered PING was sent on this connection."""
        return self._answered_ping_sent_at

    def lease_valid(self) -> bool:
        """Tracking is on, and a ROLE sent at most `lease_seconds` ago has been answered
        "master"."""
        sent_at = self._answered_ping_sent_at
        return (
            self._connected and sent_at is not None and self._monotonic() - sent_at <= self._lease
        )

    # Where the cache asks about a key: one node tracks them all here (a cluster has one
    # listener per primary, and a feed that picks the key's).

    def node_of(self, key: bytes) -> bytes | None:
        """The run id of the node tracked now (None while not connected)."""
        return self._node if self._connected else None

    def trusted_node(self, key: bytes) -> bytes | None:
        """The node's run id while what this process read from it can be trusted: the lease
        holds and the deployment still names it the primary."""
        node, address = self._node, self._address
        if node is None or address is None or not self.lease_valid():
            return None  # `lease_valid` is False while not connected
        return node if self._primary.confirms(address) else None

    def trusted_nodes(self, first: bytes, second: bytes) -> tuple[bytes | None, bytes | None]:
        """`trusted_node` of both keys: one node serves them all, so one lease check."""
        node = self.trusted_node(first)
        return node, node

    def accepts_write(self, key: bytes, node: bytes) -> bool:
        """Whether a write the node `node` took reached the one primary: with replicas, the node
        tracked, still named the primary (a deposed one, cut off with us, would take it too)."""
        if not self._primary.fails_over:
            return True  # one node takes every write
        address = self._address
        tracked = self.node_of(key)
        return tracked == node and address is not None and self._primary.confirms(address)

    def subscribe(self, on_invalidate: Callable[[Invalidation], None]) -> None:
        self._subscribers.append(on_invalidate)

    def on_probe(self, callback: Callable[[float], None]) -> None:
        self._probe_callbacks.append(callback)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="redis-tracking")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Connected (in the background), the primary watched, while inside; stopped after."""
        async with self._primary.watching():
            await self.start()
            try:
                yield
            finally:
                await self.stop()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # unlike `await task`, keeps a cancellation of our own
            self._drop()

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except Exception as error:  # whatever broke, drop everything and reconnect
                self._lost(error)
            await asyncio.sleep(
                min(
                    _FIRST_RETRY_SECONDS * 2 ** min(self._attempts_failed - 1, 10),
                    _LAST_RETRY_SECONDS,
                )
            )

    async def _session(self) -> None:
        host, port = self._address = await self._primary.locate()  # bounded by the primary
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=self._ssl)
        try:
            parser = Resp3Parser()
            async with asyncio.timeout(self._connect_timeout):
                early_frames = await self._handshake(reader, writer, parser)
            self._up()
            async with asyncio.TaskGroup() as loops:  # both end only by raising
                loops.create_task(self._read_loop(reader, parser, early_frames))
                loops.create_task(self._ping_loop(writer))
        finally:
            self._connected = False
            writer.transport.abort()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: Resp3Parser
    ) -> list[Frame]:
        """HELLO 3 (with AUTH and the client name), tracking on, then who the node is (its run
        id) and that it is a primary; returns any later frames."""
        writer.write(self._hello + self._tracking_on + _WHO)
        frames: list[Frame] = []
        while len(frames) < 4:
            frames += await _read_frames(reader, parser)
        hello, tracking, info, role, *later = frames
        for reply in (hello, tracking, info, role):
            if isinstance(reply, ErrorReply):
                raise ProtocolError(f"handshake refused: {reply.message}")
        if not isinstance(hello, dict) or tracking != b"OK" or not isinstance(info, bytes):
            raise ProtocolError("unexpected handshake reply")
        _check_primary(role)
        before, self._node = self._node, _run_id(info)
        if before is not None and self._node != before:  # restarted, or another node took over
            self._failures.note_data_lost()
        return later

    async def _read_loop(
        self, reader: asyncio.StreamReader, parser: Resp3Parser, frames: list[Frame]
    ) -> None:
        while True:
            for frame in frames:
                self._handle(frame)
            frames = await _read_frames(reader, parser)

    async def _ping_loop(self, writer: asyncio.StreamWriter) -> None:
        while True:
            now = self._monotonic()
            if self._pings_in_flight and now - self._pings_in_flight[0] > self._dead_after:
                raise TimeoutError(f"no PONG for {self._dead_after} s")
            if self._address is not None and self._primary.superseded(self._address):
                # A node cut off from the deployment may still answer: follow the one named.
                raise ConnectionError("another node is the primary now")
            self._pings_in_flight.append(now)  # before the write: never later than Redis saw it
            writer.write(_PING)  # no drain: a few bytes, and the check above bounds them
            await asyncio.sleep(self._ping_interval)

    def _handle(self, frame: Frame) -> None:
        if isinstance(frame, Push):
            self._on_push(frame.items)
        elif isinstance(frame, list) and self._pings_in_flight:
            _check_primary(frame)  # a demoted node: drop the connection, find the primary
            self._answered_ping_sent_at = self._pings_in_flight.popleft()
        elif isinstance(frame, ErrorReply):
            raise ProtocolError(f"error reply: {frame.message}")
        else:
            raise ProtocolError(f"unexpected {type(frame).__name__} reply")

    def _on_push(self, items: list[Frame]) -> None:
        if len(items) != 2 or items[0] != b"invalidate":
            return  # not tracking's
        raw = items[1]
        if raw is None:  # FLUSHALL, FLUSHDB
            self._failures.note_data_lost()
            self._invalidate(None)
            return
        keys = [key for key in raw if isinstance(key, bytes)] if isinstance(raw, list) else []
        if not isinstance(raw, list) or len(keys) != len(raw):
            raise ProtocolError("malformed invalidate push")
        self._invalidate(keys)
        self._report_probes(keys)

    def _invalidate(self, keys: Invalidation) -> None:
        self._generation += 1
        if keys is None:  # a flush, a (re)connection or a drop: writes may have been lost
            self._failures.note()
        for subscriber in self._subscribers:
            try:
                subscriber(keys)
            except Exception:
                logger.exception("a tracking subscriber failed")

    def _report_probes(self, keys: list[bytes]) -> None:
        if not self._probe_callbacks:
            return
        now = time.time_ns()
        for key in keys:
            stamp = key[len(self._probe_prefix) :]
            if not (key.startswith(self._probe_prefix) and stamp.isdigit()):
                continue
            for callback in self._probe_callbacks:
                try:
                    callback((now - int(stamp)) / 1e9)
                except Exception:
                    logger.exception("a probe callback failed")

    def _up(self) -> None:
        if self._attempts_failed:
            logger.info("redis tracking connection restored")
        self._attempts_failed = 0
        self._connected = True
        self._invalidate(None)  # whatever happened while we were away is unknown

    def _lost(self, error: Exception) -> None:
        while isinstance(error, ExceptionGroup):
            error = error.exceptions[0]
        level = logging.WARNING if self._attempts_failed == 0 else logging.DEBUG  # once per outage
        logger.log(level, "redis tracking connection lost (%r); reconnecting", error)
        self._attempts_failed += 1
        self._drop()

    def _drop(self) -> None:
        self._connected = False
        self._answered_ping_sent_at = None
        self._pings_in_flight.clear()
        self._invalidate(None)


async def _read_frames(reader: asyncio.StreamReader, parser: Resp3Parser) -> list[Frame]:
    """At least one frame."""
    while True:
        data = await reader.read(_READ_BYTES)
        if not data:
            raise ConnectionError("closed by the server")
        if frames := parser.feed(data):
            return frames


def _check_primary(role: Frame) -> None:
    """A ROLE reply must say "master"."""
    if not isinstance(role, list) or not role or role[0] != b"master":
        raise ProtocolError(f"the node is not a primary: {role!r:.60}")


def _run_id(info: bytes) -> bytes:
    for line in info.splitlines():
        if line.startswith(b"run_id:"):
            return line.removeprefix(b"run_id:").strip()
    raise ProtocolError("INFO server gave no run_id")


def _endpoint(url: str) -> tuple[ssl.SSLContext | None, bytes]:
    """The TLS context and the HELLO command (the database number does not matter: tracking is
    keyspace-wide); where to connect is the `Primary`'s to say."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("a redis:// or rediss:// URL is needed")
    hello = [b"HELLO", b"3"]
    if parts.password is not None:
        username = unquote(parts.username or "") or "default"
        hello += [b"AUTH", username.encode(), unquote(parts.password).encode()]
    context = ssl.create_default_context() if parts.scheme == "rediss" else None
    command = encode_command(*hello, b"SETNAME", CLIENT_NAME)
    return context, command


def _tracked_prefixes(prefixes: Sequence[bytes], probe_prefix: bytes) -> list[bytes]:
    """`prefixes`, widened to cover `probe_prefix`; Redis refuses overlapping prefixes."""
    if not prefixes:
        raise ValueError("at least one prefix: without one, BCAST tracks every key")
    tracked = list(prefixes)
    if not any(probe_prefix.startswith(prefix) for prefix in tracked):
        tracked = [prefix for prefix in tracked if not prefix.startswith(probe_prefix)]
        tracked.append(probe_prefix)
    for index, prefix in enumerate(tracked):
        if any(other.startswith(prefix) for other in tracked[index + 1 :] + tracked[:index]):
            raise ValueError(f"overlapping tracking prefixes: {prefix!r}")
    return tracked
