"""client → Caddy forward_auth (docs/caddy-gateway.Caddyfile) → verify → an echoing upstream."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway_proofs import GatewayProofs, StartGateway
from tests.integration.gateways import DOCS, gateway_process, program
from tests.live_server import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@contextlib.contextmanager
def caddy(directory: Path, service_port: int, backend_port: int) -> Iterator[str]:
    """Debian's Caddy on the documented file, unchanged: its addresses come from the
    environment; the admin API is off, so two Caddys can run at once."""
    binary = program("caddy", install="apt-get install caddy")
    port = free_port()
    recipe = DOCS / "caddy-gateway.Caddyfile"
    (directory / "Caddyfile").write_text(f"{{\n\tadmin off\n}}\n\nimport {recipe}\n")
    env = {
        **os.environ,
        "HOME": str(directory),  # Caddy keeps its state under $HOME and XDG_*
        "XDG_DATA_HOME": str(directory),
        "XDG_CONFIG_HOME": str(directory),
        "LISTEN": f"127.0.0.1:{port}",
        "REVOCATION_SERVICE": f"127.0.0.1:{service_port}",
        "BACKEND": f"127.0.0.1:{backend_port}",
    }
    command = [binary, "run", "--config", str(directory / "Caddyfile"), "--adapter", "caddyfile"]
    with gateway_process(command, port, directory / "caddy.log", env) as url:
        yield url


class TestCaddyGateway(GatewayProofs):
    def start(self, directory: Path, service_port: int, backend_port: int) -> StartGateway:
        return caddy(directory, service_port, backend_port)
