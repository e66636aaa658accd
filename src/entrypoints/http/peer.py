"""Who is calling: the socket peer, or the client a trusted proxy names."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from litestar.connection import ASGIConnection


def peer_address(
    connection: ASGIConnection[Any, Any, Any, Any], trusted_proxies: Collection[str]
) -> str:
    """The rightmost X-Forwarded-For hop not a trusted proxy, if the socket peer is trusted.

    Anyone can write X-Forwarded-For; only a proxy we trust appends to it honestly.
    """
    peer = connection.client.host if connection.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [hop.strip() for hop in connection.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            return hop
    return peer
