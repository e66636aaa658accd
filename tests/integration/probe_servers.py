"""Server processes of the real app plus the test probe route (tests/probe_app.py)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping

from tests.live_server import REPO, SERVER_ENV, LiveServer, free_port, wait_until_up


@contextlib.contextmanager
def probe_servers(extra_env: Mapping[str, str], count: int = 2) -> Iterator[list[LiveServer]]:
    """`count` uvicorn processes on their own ports, migrated once, stopped and reaped on exit."""
    python_path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))
    env = {**os.environ, **SERVER_ENV, **extra_env, "PYTHONPATH": python_path}
    cli = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True, cwd=REPO)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(_serve(env)) for _ in range(count)]


@contextlib.contextmanager
def _serve(env: Mapping[str, str]) -> Iterator[LiveServer]:
    port = free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "tests.probe_app:app_from_env"]
    options = ["--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    process = subprocess.Popen([*uvicorn, *options, "--log-level", "warning"], env=env, cwd=REPO)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process)
        yield LiveServer(base_url=base_url, process=process, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
