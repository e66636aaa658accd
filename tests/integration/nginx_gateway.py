"""A real nginx running docs/nginx-gateway.conf."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.integration.gateways import DOCS, gateway_process, program, render
from tests.live_server import free_port


@contextlib.contextmanager
def nginx(directory: Path, service_port: int, backend_port: int) -> Iterator[str]:
    """nginx in the foreground on a free loopback port; stopped and reaped on exit."""
    binary = program("nginx", fallback="/usr/sbin/nginx", install="apt-get install nginx-light")
    port = free_port()
    site = render(
        DOCS / "nginx-gateway.conf",
        {
            "127.0.0.1:8000": f"127.0.0.1:{service_port}",
            "127.0.0.1:9000": f"127.0.0.1:{backend_port}",
            "listen 8080;": f"listen 127.0.0.1:{port};",
        },
    )
    (directory / "site.conf").write_text(site)
    (directory / "nginx.conf").write_text(
        "events {}\nhttp {\n"
        "    access_log off;\n"
        "    client_body_temp_path tmp/body;\n    proxy_temp_path tmp/proxy;\n"
        "    include site.conf;\n}\n"
    )
    (directory / "tmp").mkdir(exist_ok=True)
    globals_ = f"daemon off; pid {directory}/nginx.pid; error_log {directory}/error.log;"
    command = [binary, "-p", f"{directory}/", "-c", "nginx.conf", "-g", globals_]
    with gateway_process(command, port, directory / "nginx.out") as url:
        yield url
