"""Who is calling: the socket peer, or the client that a chain of trusted proxies names."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from litestar.connection import ASGIConnection
from litestar.types import Scope

_FORWARDED_FOR = b"x-forwarded-for"  # ASGI servers lower-case header names
MAX_HOP_LENGTH = 64  # what a hop that is no address may weigh in a log line or a throttle key

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The addresses and networks (`10.0.0.0/8`) whose X-Forwarded-For hops are believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPAddress) and any(
            address in network for network in self._networks
        )

    def __bool__(self) -> bool:
        return bool(self._networks)


def peer_address(connection: ASGIConnection[Any, Any, Any, Any], trusted: TrustedProxies) -> str:
    """The first hop, walking X-Forwarded-For from the right, that is not a trusted proxy; the
    walk starts only if the socket peer itself is trusted.

    Anyone can write X-Forwarded-For; each proxy we trust appends the address it saw, to the
    last line or in a line of its own (HAProxy does), so every line counts, in order, as one
    list (RFC 9110): what a client wrote itself is always left of what our proxies appended.
    """
    return peer_of(connection.scope, trusted)


def peer_of(scope: Scope, trusted: TrustedProxies) -> str:
    """peer_address, from the request's ASGI scope."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not trusted:  # no proxy to believe: the socket peer as the server gave it
        return peer
    if _address(peer) not in trusted:
        return peer
    for hop in reversed(_forwarded_hops(scope["headers"])):
        address = _address(hop)
        if address not in trusted:
            return str(address) if address is not None else hop[:MAX_HOP_LENGTH]
        peer = str(address)
    return peer  # every hop was one of our proxies: the leftmost is the client


def _forwarded_hops(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    lines = [value.decode("latin-1") for name, value in headers if name == _FORWARDED_FOR]
    return [hop.strip() for hop in ",".join(lines).split(",") if hop.strip()]


def _address(hop: str) -> IPAddress | None:
    """The address of a hop, also when a proxy wrote it with a port (`1.2.3.4:80`,
    `[2001:db8::1]:443`); None when it is no address at all."""
    candidates = [hop]
    if hop.startswith("["):
        candidates.append(hop[1:].partition("]")[0])
    elif hop.count(":") == 1:
        candidates.append(hop.partition(":")[0])
    for candidate in candidates:
        try:
            return ipaddress.ip_address(candidate)
        except ValueError:
            continue
    return None


# The request the authentication middleware is checking: read only when the check finds a
# replay, so an accepted token never pays for its peer's address.
checked_request: ContextVar[Scope | None] = ContextVar("checked_request", default=None)


def current_peer(trusted: TrustedProxies) -> Callable[[], str | None]:
    """The peer of the request being checked (None outside one), for the replay watch."""

    def peer() -> str | None:
        scope = checked_request.get()
        return None if scope is None else peer_of(scope, trusted)

    return peer
