"""Run the real service as a separate process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.processes import stop

REPO = Path(__file__).parents[1]
SERVER_ENV = {
    "JWT_SECRET": "live-server-secret-that-is-long-enough-for-hs256",
    "APP_ID": "laravel-app",
    "APP_KEY": "laravel-secret-key",
    "JWT_ISSUER": "live-tests",
    # Off unless a test turns it on: with Redis the throttle is shared by every server on it,
    # and every test server's callers are 127.0.0.1 (schemathesis sends wrong keys on purpose).
    "LGT_ALL_MAX_FAILURES": "0",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    env: Mapping[str, str]


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], timeout: float = 20.0, health: str = "/health/live"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(f"{url}{health}", timeout=1),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up in {timeout} s")


@contextlib.contextmanager
def live_server(
    extra_env: Mapping[str, str], *, migrate: bool = True, stderr: IO[bytes] | None = None
) -> Iterator[LiveServer]:
    """`revocation serve` with SERVER_ENV + extra_env; stopped (and reaped) on exit.

    `stderr`: a file to capture the server's logs in (default: the test run's own stderr).
    """
    port = free_port()
    env = {**os.environ, **SERVER_ENV, **extra_env, "PORT": str(port)}
    cli = [sys.executable, "-m", "revocation.entrypoints.cli"]
    if migrate:
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True, cwd=REPO)
    # Its own process group: granian's worker is a child that outlives a killed main process.
    process = subprocess.Popen(
        [*cli, "serve"], env=env, cwd=REPO, stderr=stderr, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process)
        yield LiveServer(base_url=base_url, process=process, env=env)
    finally:
        stop(process)
        with contextlib.suppress(ProcessLookupError):  # nothing of the server outlives the test
            os.killpg(process.pid, signal.SIGKILL)


def library_app_from_env() -> Any:
    """The library-mode example's routes and plugin, logging JSON lines at INFO as the service
    does (the example leaves logging to Litestar's defaults, whose lines drop event fields)."""
    from litestar import Litestar

    from examples.library_app.app import health, list_orders
    from revocation.entrypoints.containers import Container
    from revocation.entrypoints.library import RevocationPlugin
    from revocation.entrypoints.logs import configure_logging
    from revocation.entrypoints.settings import Settings

    configure_logging("json", "INFO")
    container = Container(settings=Settings.from_env(os.environ))
    plugin = RevocationPlugin(container, public_paths=[r"^/health$"])
    return Litestar([list_orders, health], plugins=[plugin], logging_config=None)


LIBRARY_APP = "tests.live_server:library_app_from_env"


@contextlib.contextmanager
def live_app(
    factory: str,
    extra_env: Mapping[str, str],
    *,
    health: str = "/health",
    stderr: IO[bytes] | None = None,
) -> Iterator[LiveServer]:
    """Another app factory (`module:function`) served like the service, on a free port.

    Library mode's example as a real process: a team's own API behind our middleware, with a
    public `health` route to wait for.
    """
    port = free_port()
    env = {**os.environ, **SERVER_ENV, **extra_env}
    serve = (
        "import sys; from revocation.entrypoints import asgi_server; "
        "from revocation.entrypoints.logs import logging_config; "
        "asgi_server.run(sys.argv[1], server='granian', host='127.0.0.1', "
        "port=int(sys.argv[2]), workers=1, log_config=logging_config('json', 'INFO'))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", serve, factory, str(port)],
        env=env,
        cwd=REPO,
        stderr=stderr,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process, health=health)
        yield LiveServer(base_url=base_url, process=process, env=env)
    finally:
        stop(process)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
