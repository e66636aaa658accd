"""The benchmark harness end to end, tiny: every phase runs and its table comes out.

Not a performance test: one 1-second round per row, N up to 100, 1,000 seeded rows. It proves
that `make bench` works (wrk, both apps, the counting proxies, the memory figure).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys

import pytest

from tests.integration.servers import unavailable


def test_the_benchmark_runs_every_phase_and_prints_its_tables(postgres_url: str) -> None:
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            unavailable(f"`{tool}` is not installed (Debian: apt-get install {tool})")
    admin_url = postgres_url.rpartition("/")[0] + "/postgres"
    command = [sys.executable, "-m", "bench", "--seconds", "1", "--rounds", "1"]
    command += ["--sizes", "1,100", "--tokens", "3", "--rows", "1000", "--skip-servers"]
    command += ["--memory-entries", "1000", "--admin-url", admin_url]
    command += ["--database", f"revocation_bench_smoke_{secrets.token_hex(4)}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=os.environ)
    assert done.returncode == 0, done.stderr[-3000:]
    for heading in ("Hot path", "Logout-all", "Memory", "Targets"):
        assert heading in done.stdout
    assert "protected, blacklisted" in done.stdout
    scaling = done.stdout.split("Logout-all", 1)[1].split("Memory", 1)[0]
    assert "\n100 " in scaling  # the row of N = 100 made it


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """wrk and urllib talk to loopback only; a proxy from the environment would intercept."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
