"""Keeps a process-local cache coherent with Redis: client-side caching over our own RESP3 link.

Redis queues a BCAST invalidation on our connection before it sends the write's reply (both in
beforeSleep), so a PING sent after the write was acknowledged is answered after the invalidation
was queued; a PING queued earlier may be answered first. So the lease runs from the ping's send
time, never from the pong's arrival: the pong proves every write acknowledged before it was sent.

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


_PING = encode_command(b"PING")


class TrackingListener:
    """Broadcast invalidations for keys under `prefixes`, and a lease on having handled them."""

    def __init__(
        self,
        url: str,
        failures: RedisFailures,
        *,
        prefixes: Sequence[bytes],
        lease_seconds: float,
        ping_interval_seconds: float | None = None,
        connect_timeout: float = 0.5,
        probe_prefix: bytes = b"rv:probe:",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._host, self._port, self._ssl, self._hello = _endpoint(url)
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
        """Tracking is on, and a PING sent at most `lease_seconds` ago has been answered."""
        sent_at = self._answered_ping_sent_at
        return (
            self._connected and sent_at is not None and self._monotonic() - sent_at <= self._lease
        )

    def subscribe(self, on_invalidate: Callable[[Invalidation], None]) -> None:
        self._subscribers.append(on_invalidate)

    def on_probe(self, callback: Callable[[float], None]) -> None:
        self._probe_callbacks.append(callback)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="redis-tracking")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Connected (in the background) while inside, stopped after."""
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
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(self._host, self._port, ssl=self._ssl)
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
        """HELLO 3 (with AUTH and the client name), then tracking on; returns any later frames."""
        writer.write(self._hello + self._tracking_on)
        frames: list[Frame] = []
        while len(frames) < 2:
            frames += await _read_frames(reader, parser)
        hello, tracking, *later = frames
        for reply in (hello, tracking):
            if isinstance(reply, ErrorReply):
                raise ProtocolError(f"handshake refused: {reply.message}")
        if not isinstance(hello, dict) or tracking != b"OK":
            raise ProtocolError("unexpected handshake reply")
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
            self._pings_in_flight.append(now)  # before the write: never later than Redis saw it
            writer.write(_PING)  # no drain: a few bytes, and the check above bounds them
            await asyncio.sleep(self._ping_interval)

    def _handle(self, frame: Frame) -> None:
        if isinstance(frame, Push):
            self._on_push(frame.items)
        elif frame == b"PONG" and self._pings_in_flight:
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


def _endpoint(url: str) -> tuple[str, int, ssl.SSLContext | None, bytes]:
    """Host, port, TLS context and the HELLO command (the database number does not matter:
    tracking is keyspace-wide)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("a redis:// or rediss:// URL is needed")
    hello = [b"HELLO", b"3"]
    if parts.password is not None:
        username = unquote(parts.username or "") or "default"
        hello += [b"AUTH", username.encode(), unquote(parts.password).encode()]
    context = ssl.create_default_context() if parts.scheme == "rediss" else None
    command = encode_command(*hello, b"SETNAME", CLIENT_NAME)
    return parts.hostname or "localhost", parts.port or 6379, context, command


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
