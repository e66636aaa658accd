from __future__ import annotations

from typing import Any

import pytest
from litestar.connection import ASGIConnection

from revocation.entrypoints.http.peer import TrustedProxies, peer_address

PROXIES = TrustedProxies(["10.0.0.2", "10.1.0.0/16", "2001:db8:f::/48"])


def connection(peer: str, *forwarded_for: str) -> ASGIConnection[Any, Any, Any, Any]:
    headers = [(b"x-forwarded-for", line.encode()) for line in forwarded_for]
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
        "forwarded", [("1.1.1.1, 198.51.100.1",), ("1.1.1.1, 198.51.100.1, 10.1.7.3",)]
    )
    def test_only_the_hop_our_proxies_appended_counts(self, forwarded: tuple[str]) -> None:
        # The client may have written "1.1.1.1" itself; our proxies appended the rest.
        assert peer_address(connection("10.0.0.2", *forwarded), PROXIES) == "198.51.100.1"

    @pytest.mark.parametrize(
        "lines",
        [
            ("1.1.1.1", "198.51.100.1"),  # HAProxy's `option forwardfor`: a line of its own
            ("1.1.1.1, 2.2.2.2", "198.51.100.1, 10.1.0.9"),
            ("1.1.1.1", "198.51.100.1", "10.0.0.2"),
        ],
    )
    def test_every_header_line_counts_in_order(self, lines: tuple[str, ...]) -> None:
        assert peer_address(connection("10.0.0.2", *lines), PROXIES) == "198.51.100.1"

    def test_networks_are_trusted_by_prefix(self) -> None:
        assert peer_address(connection("10.1.200.1", "198.51.100.1"), PROXIES) == "198.51.100.1"
        trusted_v6 = connection("2001:db8:f::9", "2001:db8::1, 2001:db8:f:1::1")
        assert peer_address(trusted_v6, PROXIES) == "2001:db8::1"
        assert peer_address(connection("10.2.0.1", "198.51.100.1"), PROXIES) == "10.2.0.1"

    @pytest.mark.parametrize(
        ("hop", "client"),
        [
            ("198.51.100.1:5555", "198.51.100.1"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("2001:DB8::7", "2001:db8::7"),
            ("unknown", "unknown"),
            ("x" * 500, "x" * 64),
        ],
    )
    def test_hops_are_read_as_addresses_where_they_are_one(self, hop: str, client: str) -> None:
        assert peer_address(connection("10.0.0.2", hop), PROXIES) == client

    def test_a_trusted_proxy_without_the_header_is_the_peer(self) -> None:
        assert peer_address(connection("10.0.0.2"), PROXIES) == "10.0.0.2"

    def test_a_chain_of_trusted_proxies_only_names_its_leftmost_hop(self) -> None:
        assert peer_address(connection("10.0.0.2", "10.1.0.1, 10.1.0.2"), PROXIES) == "10.1.0.1"

    def test_nothing_is_trusted_without_proxies(self) -> None:
        nobody = TrustedProxies([])
        assert peer_address(connection("10.0.0.2", "198.51.100.1"), nobody) == "10.0.0.2"
