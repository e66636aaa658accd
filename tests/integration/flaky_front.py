"""A front for the service that fails its first calls, as a flaky network or a database that
does not answer would, then passes the rest on: what a client's retries are tested against."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class FlakyFront:
    """In front of the service: the first `failures` calls get `failure` ("503" or "drop": the
    connection closed without an answer), later ones are passed on. Counts every call."""

    def __init__(self, service_url: str, failure: str, failures: int) -> None:
        self.attempts = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                front.attempts += 1
                if front.attempts <= failures and failure == "drop":
                    self.close_connection = True
                    return
                if front.attempts <= failures:
                    self._reply(503, b'{"title":"Service Unavailable"}')
                    return
                passed = httpx.post(
                    f"{service_url}{self.path}",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                self._reply(passed.status_code, passed.content, passed.headers.get("retry-after"))

            def _reply(self, status: int, body: bytes, retry_after: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @contextlib.contextmanager
    def running(self) -> Iterator[FlakyFront]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()
