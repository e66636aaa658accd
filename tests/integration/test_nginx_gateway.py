"""client → nginx (docs/nginx-gateway.conf) → verify → an echoing upstream, on Postgres + Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.gateway_proofs import GatewayProofs, StartGateway
from tests.integration.nginx_gateway import nginx

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class TestNginxGateway(GatewayProofs):
    def start(self, directory: Path, service_port: int, backend_port: int) -> StartGateway:
        return nginx(directory, service_port, backend_port)

    def assert_refused(self, response: httpx.Response) -> None:
        """The spec's JSON body, not nginx's HTML page; nginx copies the challenge."""
        super().assert_refused(response)
        assert response.headers["content-type"] == "application/json"

    def assert_unavailable(self, response: httpx.Response) -> None:
        """The service's own 503 body, whether it is down or cannot decide."""
        assert (response.status_code, response.content) == (503, b'{"title":"Service Unavailable"}')
