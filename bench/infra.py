"""The benchmark's own servers: a throwaway redis-server, its own database, app processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parents[1]
JWT_SECRET = "bench-only-jwt-secret-that-is-long-enough-for-hs256"
JWT_ISSUER = "bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"bench: `{name}` is not installed (Debian: apt-get install {name})")
    return path


@contextlib.contextmanager
def throwaway_redis() -> Iterator[str]:
    """A private redis-server on a free port (no persistence); yields its URL, then stops it."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as workdir:
        command = [require_tool("redis-server"), "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", workdir]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            _wait_for_port(port, process)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rpartition("/")[0] + "/" + name


@contextlib.contextmanager
def own_database(admin_url: str, name: str) -> Iterator[str]:
    """Drop and create database `name` on the server of `admin_url`; dropped again after."""
    import asyncio

    async def recreate(create: bool) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(recreate(create=True))
    try:
        yield database_url(admin_url, name)
    finally:
        asyncio.run(recreate(create=False))


CACHE_MODES = ("off", "redis", "local")  # REVOCATION_CACHE; the service's default is local


def service_env(database: str, redis: str, *, cache: str | None = None) -> dict[str, str]:
    """The environment of every app process: the service's settings, shared by the reference.

    The service logs at its default level, as deployed: a flood of refused tokens must not
    cost a log line each. `cache` sets REVOCATION_CACHE; None leaves the service's default (or
    the caller's own).
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),  # bench and its reference app; the service is installed
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        "JWT_SECRET": JWT_SECRET,
        "JWT_ISSUER": JWT_ISSUER,
        "APP_ID": "bench-app",
        "APP_KEY": "bench-app-key-long-enough-for-anything",
    }
    return env if cache is None else {**env, "REVOCATION_CACHE": cache}


@dataclass(frozen=True)
class App:
    """A running app process."""

    label: str
    base_url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def app_process(label: str, command: list[str], env: Mapping[str, str], port: int) -> Iterator[App]:
    """Start `command` (an app listening on `port`), wait for its hello route, stop it after."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=dict(env), cwd=REPO, stdout=log, stderr=log)
        base_url = f"http://127.0.0.1:{port}"
        try:
            try:
                _wait_for_http(f"{base_url}/health/live", process)
            except RuntimeError:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace")[-4000:])
                raise
            yield App(label=label, base_url=base_url, process=process)
        finally:
            _stop(process)


def service_command(port: int, server: str, workers: int) -> list[str]:
    """`revocation serve`, exactly as the README runs it."""
    cli = [sys.executable, "-m", "revocation.entrypoints.cli", "serve", "--port", str(port)]
    return [*cli, "--server", server, "--workers", str(workers)]


def reference_command(port: int, server: str, workers: int) -> list[str]:
    module = [sys.executable, "-m", "bench.reference_app", "--port", str(port)]
    return [*module, "--server", server, "--workers", str(workers)]


def bare_command(port: int, server: str, workers: int) -> list[str]:
    module = [sys.executable, "-m", "bench.bare_asgi", "--port", str(port)]
    return [*module, "--server", server, "--workers", str(workers)]


def migrate(env: Mapping[str, str]) -> None:
    command = [sys.executable, "-m", "revocation.entrypoints.cli", "migrate"]
    subprocess.run(command, env=dict(env), cwd=REPO, check=True, capture_output=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def _wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=1),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
