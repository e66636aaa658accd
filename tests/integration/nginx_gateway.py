"""A real nginx running docs/nginx-gateway.conf, and an upstream that echoes what reached it."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.integration.servers import unavailable
from tests.live_server import REPO, free_port
from tests.processes import stop

GATEWAY_CONF = REPO / "docs" / "nginx-gateway.conf"
# The documented file's three addresses, replaced by the test's free ports.
SERVICE_ADDRESS, BACKEND_ADDRESS, LISTEN = "127.0.0.1:8000", "127.0.0.1:9000", "listen 8080;"


@dataclass
class Hit:
    """One request as the upstream received it: header names lower-cased, repeats kept."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass
class EchoUpstream:
    """Stands for the team's API behind the gateway; `hits` is everything that got through."""

    url: str
    hits: list[Hit] = field(default_factory=list)


def _echo_handler(hits: list[Hit]) -> type[BaseHTTPRequestHandler]:
    class Echo(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = [(key.lower(), value) for key, value in self.headers.items()]
            hits.append(Hit(self.command, self.path, headers, body))
            reply = json.dumps({"headers": headers}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        # http.server dispatches on these names.
        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_one  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: pytest shows the test's own output."""

    return Echo


@contextlib.contextmanager
def echo_upstream() -> Iterator[EchoUpstream]:
    upstream = EchoUpstream(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _echo_handler(upstream.hits))
    upstream.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def render_conf(service_port: int, backend_port: int, listen_port: int) -> str:
    text = GATEWAY_CONF.read_text()
    for documented, actual in [
        (SERVICE_ADDRESS, f"127.0.0.1:{service_port}"),
        (BACKEND_ADDRESS, f"127.0.0.1:{backend_port}"),
        (LISTEN, f"listen 127.0.0.1:{listen_port};"),
    ]:
        assert text.count(documented) == 1, f"{documented!r} should appear once in the doc"
        text = text.replace(documented, actual)
    return text


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port} in {timeout} s")


@contextlib.contextmanager
def nginx(directory: Path, service_port: int, backend_port: int) -> Iterator[str]:
    """nginx in the foreground on a free loopback port; stopped and reaped on exit."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        unavailable("nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    (directory / "site.conf").write_text(render_conf(service_port, backend_port, port))
    (directory / "nginx.conf").write_text(
        "events {}\nhttp {\n"
        "    access_log off;\n"
        "    client_body_temp_path tmp/body;\n    proxy_temp_path tmp/proxy;\n"
        "    include site.conf;\n}\n"
    )
    (directory / "tmp").mkdir(exist_ok=True)
    globals_ = f"daemon off; pid {directory}/nginx.pid; error_log {directory}/error.log;"
    command = [binary, "-p", f"{directory}/", "-c", "nginx.conf", "-g", globals_]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
