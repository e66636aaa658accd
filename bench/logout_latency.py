"""Logout latency under load: `POST /api/v2/logout` of fresh logged tokens, a few in flight,
while wrk keeps the protected route busy on the same process. In local mode each answer
includes the lease wait (REVOCATION_LEASE_MS after the Redis write was acknowledged).

The client is a raw HTTP/1.1 one on keep-alive connections: nothing heavier than the request
itself sits between the two clock readings.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.infra import App
from bench.load import Load, wrk_in_background
from bench.report import table
from revocation.entrypoints.http.verify import VERIFY_PATH

LOGOUT_PATH = "/api/v2/logout"
WRK_WARM_UP_SECONDS = 0.3
# Logouts before the timed ones, under the same load: the first ones on each pooled connection
# pay for connecting and preparing statements; the figure is the steady state's.
WARM_UP_LOGOUTS = 32


@dataclass(frozen=True)
class LogoutLatency:
    """One app's logouts, in milliseconds, and the wrk run that loaded it meanwhile."""

    logouts: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    load: Load


class _Connection:
    """One keep-alive HTTP/1.1 connection; answers need a Content-Length (Litestar sends one)."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, token: str) -> tuple[int, float]:
        """(status, milliseconds from sending the request to the last byte of the answer)."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(*self._address)
        reader, writer = self._streams
        request = f"POST {path} HTTP/1.1\r\nHost: {self._address[0]}:{self._address[1]}\r\n"
        request += f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
        started = time.perf_counter()
        writer.write(request.encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        length = head.split("content-length:", 1)[1].split("\r\n", 1)[0]
        await reader.readexactly(int(length))
        elapsed = (time.perf_counter() - started) * 1000
        if "connection: close" in head:
            await self.close()
        return int(head.split(" ", 2)[1]), elapsed

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _log_out(base_url: str, tokens: Sequence[str], concurrency: int) -> list[float]:
    parts = urlsplit(base_url)
    pending: Iterator[str] = iter(tokens)
    times: list[float] = []

    async def worker() -> None:
        connection = _Connection(parts.hostname or "127.0.0.1", parts.port or 80)
        try:
            for token in pending:  # shared: each token is taken by exactly one worker
                status, elapsed = await connection.post(LOGOUT_PATH, token)
                if status != 200:
                    raise RuntimeError(f"logout answered {status}")
                times.append(elapsed)
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return times


def measure(
    app: App,
    tokens: Sequence[str],
    *,
    load_tokens: Sequence[str],
    concurrency: int,
    connections: int,
) -> LogoutLatency:
    """Log out every token of `tokens` while wrk sends `load_tokens` to the protected route;
    the first WARM_UP_LOGOUTS are not timed."""
    warm_up, timed = tokens[:WARM_UP_LOGOUTS], tokens[WARM_UP_LOGOUTS:]
    with wrk_in_background(
        app.base_url + VERIFY_PATH, connections=connections, tokens=load_tokens
    ) as wrk:
        time.sleep(WRK_WARM_UP_SECONDS)
        asyncio.run(_log_out(app.base_url, warm_up, concurrency))
        times = asyncio.run(_log_out(app.base_url, timed, concurrency))
    if wrk.load is None or wrk.load.non_2xx or wrk.load.socket_errors:
        raise RuntimeError(f"{app.label}: the valid-token load beside the logouts failed: {wrk}")
    return LogoutLatency(
        logouts=len(times),
        p50_ms=statistics.median(times),
        p99_ms=_percentile(times, 0.99),
        max_ms=max(times),
        load=wrk.load,
    )


def _percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (no interpolation)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]


def latency_table(figures: dict[str, LogoutLatency]) -> str:
    rows = [
        [
            label,
            f"{f.logouts:,}",
            f"{f.p50_ms:.1f}",
            f"{f.p99_ms:.1f}",
            f"{f.max_ms:.1f}",
            f"{f.load.rps:,.0f}",
        ]
        for label, f in figures.items()
    ]
    header = ["app", "logouts", "p50 ms", "p99 ms", "max ms", "meanwhile valid-token req/s"]
    return table(header, rows)
