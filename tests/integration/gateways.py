"""What every gateway recipe's test shares: an upstream that echoes what reached it, the
recipe file with its documented addresses replaced by free ports, and the gateway's process."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.integration.servers import unavailable
from tests.live_server import REPO
from tests.processes import stop

DOCS = REPO / "docs"


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

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


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


def render(recipe: Path, replacements: Mapping[str, str]) -> str:
    """The documented file with each documented address replaced; each must appear once, so
    the test runs exactly what the docs show."""
    text = recipe.read_text()
    for documented, actual in replacements.items():
        assert text.count(documented) == 1, f"{documented!r} should appear once in {recipe.name}"
        text = text.replace(documented, actual)
    return text


def program(name: str, *, fallback: str | None = None, install: str) -> str:
    """The gateway's binary; fails under CI=true (skips elsewhere) when it is not installed."""
    found = shutil.which(name) or fallback
    if found is None or not Path(found).exists():
        unavailable(f"{name} is not installed ({install})")
    assert found is not None
    return found


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {port} in {timeout} s")


@contextlib.contextmanager
def gateway_process(
    command: Sequence[str], port: int, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """The gateway in the foreground, its output in `log`; its URL once it listens on `port`."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for_port(port, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)
