"""The nginx config users copy from docs/gateway.md is the one the integration test runs."""

from __future__ import annotations

from tests.live_server import REPO


def test_the_guide_shows_the_tested_nginx_config_verbatim() -> None:
    tested = (REPO / "docs" / "nginx-gateway.conf").read_text()
    guide = (REPO / "docs" / "gateway.md").read_text()
    assert f"```nginx\n{tested}```" in guide
