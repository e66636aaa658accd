"""Loopback TCP proxies that count, from outside the client, what crosses the wire.

`PostgresCounter` parses the frontend protocol: statements are Execute ('E') and simple Query
('Q') messages; round trips are Sync ('S') and Query messages, each of which makes the client
wait for a ReadyForQuery. `RedisCounter` parses RESP: commands are request arrays; a round trip
starts when a command arrives while no reply is outstanding (a pipeline is one). A connection
that turns on `CLIENT TRACKING` (the local cache's listener: a PING every few ms) is not counted
from then on: it is no request's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

_SSL_OR_GSS_REQUEST = (80877103, 80877104)


@dataclass
class Counts:
    statements: int = 0
    round_trips: int = 0
    commands: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> Counts:
        return Counts(self.statements, self.round_trips, dict(self.commands))

    def since(self, before: Counts) -> Counts:
        commands = {name: n - before.commands.get(name, 0) for name, n in self.commands.items()}
        return Counts(
            self.statements - before.statements,
            self.round_trips - before.round_trips,
            {name: n for name, n in commands.items() if n},
        )


class PostgresCounter:
    """Counts one client connection's statements and round trips."""

    def __init__(self, counts: Counts) -> None:
        self._counts = counts
        self._buffer = bytearray()
        self._started = False

    def client_bytes(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if not self._started:
                if len(self._buffer) < 8:
                    return
                length = int.from_bytes(self._buffer[:4], "big")
                code = int.from_bytes(self._buffer[4:8], "big")
                if len(self._buffer) < length:
                    return
                del self._buffer[:length]
                self._started = code not in _SSL_OR_GSS_REQUEST
                continue
            if len(self._buffer) < 5:
                return
            length = int.from_bytes(self._buffer[1:5], "big")
            if len(self._buffer) < 1 + length:
                return
            kind = chr(self._buffer[0])
            del self._buffer[: 1 + length]
            self._counts.statements += kind in "EQ"
            self._counts.round_trips += kind in "SQ"

    def server_bytes(self, data: bytes) -> None:
        """Replies need no parsing: the client's Syncs and Queries mark its waits."""


class RedisCounter:
    """Counts one client connection's commands (by name) and round trips."""

    def __init__(self, counts: Counts) -> None:
        self._counts = counts
        self._requests = bytearray()
        self._replies = bytearray()
        self._outstanding = 0
        self._tracking = False

    def client_bytes(self, data: bytes) -> None:
        self._requests += data
        at = 0
        while not self._tracking and (end := _resp_end(self._requests, at)) is not None:
            name = _command_name(self._requests, at)
            self._tracking = name == "CLIENT" and b"TRACKING" in self._requests[at:end].upper()
            at = end
            if self._outstanding == 0:
                self._counts.round_trips += 1
            self._outstanding += 1
            self._counts.statements += 1
            self._counts.commands[name] = self._counts.commands.get(name, 0) + 1
        del self._requests[: len(self._requests) if self._tracking else at]

    def server_bytes(self, data: bytes) -> None:
        if self._tracking:
            return
        self._replies += data
        at, replies = 0, 0
        while (end := _resp_end(self._replies, at)) is not None:
            at, replies = end, replies + 1
        del self._replies[:at]
        # Counted as received from the next loop iteration on: request bytes that arrived in
        # this one were sent before the client could have seen these replies (same pipeline).
        asyncio.get_running_loop().call_soon(self._acknowledge, replies)

    def _acknowledge(self, replies: int) -> None:
        self._outstanding = max(0, self._outstanding - replies)


def _resp_end(buffer: bytearray, at: int) -> int | None:
    """Where the RESP value starting at `at` ends, or None if it is not complete yet."""
    line_end = buffer.find(b"\r\n", at)
    if line_end < 0:
        return None
    kind, header = bytes(buffer[at : at + 1]), buffer[at + 1 : line_end]
    position = line_end + 2
    if kind in (b"$", b"=", b"!"):  # bulk string: length, then payload
        size = int(header)
        if size < 0:
            return position
        return position + size + 2 if len(buffer) >= position + size + 2 else None
    if kind in (b"*", b">", b"~", b"%"):  # aggregates (a map holds 2 values per entry)
        count = int(header) * (2 if kind == b"%" else 1)
        for _ in range(max(count, 0)):
            end = _resp_end(buffer, position)
            if end is None:
                return None
            position = end
        return position
    return position  # simple string, error, integer, null, double, boolean


def _command_name(buffer: bytearray, at: int) -> str:
    """The first bulk string of the request array at `at`: `*3\\r\\n$3\\r\\nSET\\r\\n...`."""
    size_start = buffer.index(b"\r\n", at) + 3
    size_end = buffer.index(b"\r\n", size_start)
    name = buffer[size_end + 2 : size_end + 2 + int(buffer[size_start:size_end])]
    return bytes(name).decode(errors="replace").upper()


Parser = PostgresCounter | RedisCounter


class _Forward(asyncio.Protocol):
    """One direction's receiving end: feeds the parser as bytes arrive, passes them on."""

    def __init__(self, feed: Callable[[bytes], None]) -> None:
        self._feed = feed
        self.transport: asyncio.Transport | None = None
        self.peer: _Forward | None = None
        self._early: list[bytes] = []  # arrived before the other side was connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._feed(data)
        if self.peer is None or self.peer.transport is None:
            self._early.append(data)
        else:
            self.peer.transport.write(data)

    def connect(self, peer: _Forward) -> None:
        self.peer = peer
        assert peer.transport is not None
        for data in self._early:
            peer.transport.write(data)
        self._early.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


@contextlib.asynccontextmanager
async def counting_proxy(target_port: int, make_parser: Callable[[], Parser]) -> AsyncIterator[int]:
    """Listen on a free loopback port, forward to `target_port`, feed a new parser per client.

    Protocols, not streams: each chunk is parsed in the loop iteration that delivered it, so
    the order the parser sees is the order the bytes arrived in.
    """
    loop = asyncio.get_running_loop()

    def accept() -> _Forward:
        parser = make_parser()
        client = _Forward(parser.client_bytes)

        async def dial() -> None:
            _, server = await loop.create_connection(
                lambda: _Forward(parser.server_bytes), "127.0.0.1", target_port
            )
            server.connect(client)
            client.connect(server)

        task = loop.create_task(dial())
        pending.add(task)
        task.add_done_callback(pending.discard)
        return client

    pending: set[asyncio.Task[None]] = set()
    server = await loop.create_server(accept, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


class ProxyThread:
    """Counting proxies for Postgres and Redis on an event loop of their own (a thread), so
    that synchronous code (starting a server process, waiting for it) never stalls them."""

    def __init__(self, postgres_port: int, redis_port: int) -> None:
        self.postgres = Counts()
        self.redis = Counts()
        self._targets = (postgres_port, redis_port)
        self._loop = asyncio.new_event_loop()
        self._ready: Future[tuple[int, int]] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> tuple[int, int]:
        """Starts the proxies; returns their (postgres, redis) ports."""
        self._thread.start()
        return self._ready.result(timeout=10)

    def __exit__(self, *_: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        postgres_port, redis_port = self._targets
        async with (
            counting_proxy(postgres_port, lambda: PostgresCounter(self.postgres)) as pg,
            counting_proxy(redis_port, lambda: RedisCounter(self.redis)) as rd,
        ):
            self._ready.set_result((pg, rd))
            await self._stop.wait()
