"""Stopping the servers tests start: politely, then for sure, and always reaped."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL; never leaves a zombie behind."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
