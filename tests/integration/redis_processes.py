"""`redis-server` processes of a test's own (primaries, replicas, sentinels): started on free
loopback ports with their files in the test's directory, killed (never shut down) after."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.live_server import free_port


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            if predicate():
                return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


@dataclass
class RedisProcess:
    port: int
    process: subprocess.Popen[bytes]
    directory: Path
    options: tuple[str, ...] = ()
    sentinel: bool = False

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def admin(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, decode_responses=True)

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()

    def alive(self) -> bool:
        return self.process.poll() is None

    def restart(self, *options: str) -> None:
        """Started again on its port, empty (no persistence), with its options and these."""
        self.kill()
        again = start_redis(
            self.directory, *self.options, *options, sentinel=self.sentinel, port=self.port
        )
        self.process = again.process


def start_redis(
    directory: Path, *options: str, sentinel: bool = False, port: int | None = None
) -> RedisProcess:
    """A `redis-server` (a sentinel with `sentinel`) with these configuration lines."""
    port = port or free_port()
    name = f"{'sentinel' if sentinel else 'redis'}-{port}"
    config = directory / f"{name}.conf"  # Sentinel rewrites its configuration file
    lines = [f"port {port}", "bind 127.0.0.1", f"dir {directory}", f"logfile {name}.log"]
    lines += ["save ''", "appendonly no"] if not sentinel else []
    config.write_text("\n".join([*lines, *options]) + "\n")
    command = ["redis-server", str(config), *(["--sentinel"] if sentinel else [])]
    started = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    node = RedisProcess(port, started, directory, options, sentinel)
    wait_until(lambda: node.admin().ping(), f"{name}", timeout=15)
    return node
