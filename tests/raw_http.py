"""Raw HTTP/1.1 over a socket: bytes no client library would send (huge or non-UTF-8 headers)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(
    base_url: str,
    method: str,
    path: str,
    headers: bytes,
    body: bytes = b"",
    content_length: int | None = None,
) -> RawResponse:
    """Send one request with `headers` exactly as given (CRLF-separated lines) and read it all."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n".encode()
    length = len(body) if content_length is None else content_length
    head += b"Content-Length: %d\r\n" % length + headers + b"\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head + body)
        received = b"".join(iter(lambda: connection.recv(65536), b""))
    return _parsed(received)


def request_bytes(
    method: str, path: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    """One HTTP/1.1 request that closes its connection, header lines exactly as given."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def burst(base_url: str, requests: list[bytes]) -> list[RawResponse]:
    """Every request on a connection of its own, each written the moment it connects, all
    at once: the server finds hundreds waiting together, which a client library's pool spreads
    out. (Connecting every socket before writing any would deadlock a server that accepts no
    more connections than it has requests in hand.)"""
    host, _, port = base_url.removeprefix("http://").partition(":")

    async def send(request: bytes) -> RawResponse:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(request)
            return _parsed(await reader.read())
        finally:
            writer.close()

    return list(await asyncio.gather(*(send(request) for request in requests)))


def _parsed(received: bytes) -> RawResponse:
    status_line, _, rest = received.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    fields = dict(
        line.decode("latin-1").split(": ", 1) for line in header_block.split(b"\r\n") if line
    )
    return RawResponse(
        int(status_line.split()[1]), {k.lower(): v for k, v in fields.items()}, payload
    )
