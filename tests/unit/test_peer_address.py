from __future__ import annotations

from typing import Any

import pytest
from litestar.connection import ASGIConnection

from entrypoints.http.peer import peer_address

PROXIES = {"10.0.0.2", "10.0.0.3"}


def connection(peer: str, forwarded_for: str | None = None) -> ASGIConnection[Any, Any, Any, Any]:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    scope = {
        "type": "http",
        "client": (peer, 4321),
        "headers": headers,
        "path": "/",
        "method": "POST",
    }
    return ASGIConnection(scope)  # type: ignore[arg-type]  # a minimal hand-made scope


class TestPeerAddress:
    def test_an_untrusted_peer_cannot_claim_another_address(self) -> None:
        assert peer_address(connection("203.0.113.9", "198.51.100.1"), PROXIES) == "203.0.113.9"

    def test_a_trusted_proxy_names_the_client(self) -> None:
        assert peer_address(connection("10.0.0.2", "198.51.100.1"), PROXIES) == "198.51.100.1"

    @pytest.mark.parametrize(
        "forwarded", ["1.1.1.1, 198.51.100.1", "1.1.1.1, 198.51.100.1, 10.0.0.3"]
    )
    def test_only_the_hop_our_proxies_appended_counts(self, forwarded: str) -> None:
        # The client may have written "1.1.1.1" itself; our proxies appended the rest.
        assert peer_address(connection("10.0.0.2", forwarded), PROXIES) == "198.51.100.1"

    def test_a_trusted_proxy_without_the_header_is_the_peer(self) -> None:
        assert peer_address(connection("10.0.0.2"), PROXIES) == "10.0.0.2"
