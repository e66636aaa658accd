"""The benchmark harness end to end, tiny: every phase runs and its table comes out.

Not a performance test: one 1-second round per row, N up to 100, 1,000 seeded rows, 16 logouts
per mode. It proves that `make bench` works (wrk, the reference, the bare ASGI app and the
service in every REVOCATION_CACHE mode and without the replay watch, cold tokens, logout
latency, invalidation lag, the counting proxies, the memory figures).
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
    command += ["--cold-tokens", "50"]
    command += ["--memory-entries", "1000", "--logouts", "16", "--admin-url", admin_url]
    command += ["--database", f"revocation_bench_smoke_{secrets.token_hex(4)}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=os.environ)
    assert done.returncode == 0, done.stderr[-3000:]
    headings = ["Hot path", "Logout latency", "Invalidation lag", "Logout-all", "Memory", "Targets"]
    sections = _sections(done.stdout, headings)
    for mode in ("off", "redis", "local"):
        label = f"service, REVOCATION_CACHE={mode}"
        assert f"protected, blacklisted | {label}" in sections["Hot path"]
        assert f"protected, cold tokens | {label}" in sections["Hot path"]
        assert f"\n{label} " in sections["Logout latency"]
    assert "hello (no auth)        | bare ASGI app" in sections["Hot path"]
    assert "\nservice, REVOCATION_CACHE=local " in sections["Invalidation lag"]
    assert "gateway, cache=local: cold tokens" in sections["Targets"]
    replay_off = "service, REVOCATION_CACHE=local, REPLAY_POLICY=off"
    assert f"protected, blacklisted | {replay_off}" in sections["Hot path"]
    assert f"protected, cold tokens | {replay_off}" not in sections["Hot path"]
    assert "replay watch, cache=local: blacklisted/valid" in sections["Targets"]
    assert "bytes per logged token's mark" in sections["Memory"]
    assert "near zero, cache=local: logout p99" in sections["Targets"]
    assert "\n100 " in sections["Logout-all"]  # the row of N = 100 made it


def _sections(stdout: str, headings: list[str]) -> dict[str, str]:
    """Each heading's text up to the next one; they must all be there, in this order."""
    starts = [stdout.index("\n" + heading) for heading in headings]
    assert starts == sorted(starts), "sections out of order"
    ends = [*starts[1:], len(stdout)]
    return {h: stdout[a:b] for h, a, b in zip(headings, starts, ends, strict=True)}


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """wrk and urllib talk to loopback only; a proxy from the environment would intercept."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_the_introspection_benchmark_runs_and_prints_its_rows(postgres_url: str) -> None:
    """`python -m bench.introspection`, tiny: its three rows and two verdicts come out."""
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            unavailable(f"`{tool}` is not installed (Debian: apt-get install {tool})")
    admin_url = postgres_url.rpartition("/")[0] + "/postgres"
    command = [sys.executable, "-m", "bench.introspection", "--seconds", "1", "--rounds", "1"]
    command += ["--tokens", "3", "--admin-url", admin_url]
    command += ["--database", f"revocation_bench_smoke_{secrets.token_hex(4)}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 0, done.stderr[-3000:]
    for row in ("verify route ", "introspection ", "reference ", "introspection: p99"):
        assert f"\n{row}" in done.stdout or f"| {row}" in done.stdout, row


def _instructions(postgres_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("redis-server") is None:
        unavailable("`redis-server` is not installed (Debian: apt-get install redis-server)")
    admin_url = postgres_url.rpartition("/")[0] + "/postgres"
    command = [sys.executable, "-m", "bench.instructions", "--tokens", "3", *options]
    command += ["--admin-url", admin_url]
    command += ["--database", f"revocation_bench_smoke_{secrets.token_hex(4)}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=os.environ)


def _figures(output: str) -> dict[str, float]:
    """The rows under the heading: kind -> figure."""
    rows = [line.split() for line in output.splitlines() if line.startswith("  ")]
    return {kind: float(figure.replace(",", "")) for kind, figure in rows}


def test_the_instruction_count_counts_the_requests_alone(postgres_url: str) -> None:
    """`python -m bench.instructions`, one kind, 200 requests under callgrind: the count per
    request is a request's (tens of thousands), not start-up's (billions, over 200) nor zero
    (the toggle never met its function)."""
    if shutil.which("valgrind") is None:
        unavailable("`valgrind` is not installed (Debian: apt-get install valgrind)")
    done = _instructions(postgres_url, "--kinds", "valid", "--requests", "200")
    assert done.returncode == 0, done.stderr[-3000:]
    per_request = _figures(done.stdout)["valid"]
    assert 20_000 < per_request < 500_000, done.stdout


def test_the_instruction_benchmark_times_both_kinds_without_valgrind(postgres_url: str) -> None:
    done = _instructions(postgres_url, "--wall", "--requests", "500")
    assert done.returncode == 0, done.stderr[-3000:]
    figures = _figures(done.stdout)
    assert set(figures) == {"valid", "revoked"}, done.stdout
    assert all(0 < us < 1_000 for us in figures.values()), done.stdout  # microseconds per request
