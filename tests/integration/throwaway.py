"""Throwaway Redis and Postgres servers that fault tests may kill, freeze and restart.

Never the shared servers: each of these runs on a free port of its own, is removed afterwards
(even when the test fails), and needs the Debian tools (redis-server, pg_createcluster) that the
CI image installs; without them a test skips locally and fails under CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import redis

from tests.integration.servers import unavailable
from tests.live_server import free_port

PG_VERSION = "15"


def _wait_for(check: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():  # type: ignore[operator]
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up in {timeout} s")


@dataclass
class ThrowawayRedis:
    """A `redis-server` without persistence: a restart comes back empty."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _wait_for(self._pings, f"redis-server on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen process must die too
            self.process.kill()
            self.process.wait()

    def freeze(self) -> None:
        """SIGSTOP: connections are accepted by the kernel and never answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def _pings(self) -> bool:
        with redis.Redis(port=self.port, socket_timeout=0.5) as client:
            return bool(client.ping())


@contextlib.contextmanager
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@dataclass
class ThrowawayPostgres:
    """A Postgres cluster of its own (`pg_createcluster`), trusted on loopback."""

    name: str = field(default_factory=lambda: f"faults_{secrets.token_hex(4)}")
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._ctl("start")
        _wait_for(self._ready, f"postgres cluster {self.name}")

    def ensure_running(self) -> None:
        if not self._ready():
            self.start()

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")  # fast: disconnects clients, as a crash would

    def _ctl(self, action: str, *options: str) -> None:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, self.name, action]
        subprocess.run([*command, *options], check=True, capture_output=True)

    def _ready(self) -> bool:
        probe = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe, check=False).returncode == 0


@contextlib.contextmanager
def throwaway_postgres(*settings: str) -> Iterator[ThrowawayPostgres]:
    """A new cluster, started; dropped afterwards. `settings`: `guc=value` for postgresql.conf."""
    if shutil.which("pg_createcluster") is None or os.geteuid() != 0:
        unavailable("pg_createcluster (postgresql-common) and root are needed for a cluster")
    cluster = ThrowawayPostgres()
    options = [arg for setting in settings for arg in ("-o", setting)]
    create = ["pg_createcluster", PG_VERSION, cluster.name, "-p", str(cluster.port), *options]
    subprocess.run([*create, "--", "--auth=trust"], check=True, capture_output=True)
    try:
        cluster.start()
        yield cluster
    finally:
        drop = ["pg_dropcluster", "--stop", PG_VERSION, cluster.name]
        subprocess.run(drop, check=False, capture_output=True)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on a shared server, dropped afterwards.

    Live services that repair or purge see only this test's rows, so nobody's data is touched
    and the repair's work is this test's alone.
    """
    name = f"faults_{secrets.token_hex(6)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(server_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))
