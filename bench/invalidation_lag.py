"""Invalidation lag under load: from a SET in Redis to the local cache's listener handling it.

While wrk loads the protected route, the bench SETs probe keys `rv:probe:<time.time_ns()>` at a
steady rate; the service's tracking listener observes now minus the embedded time into the
histogram `revocation_invalidation_lag_seconds` of GET /metrics. Read before and after, the
bucket deltas give the distribution, to bucket resolution only.

Probes expire long after the run: an expiry sends an invalidation too, which would be observed
as a lag of the whole TTL.
"""

from __future__ import annotations

import asyncio
import math
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bench.infra import App
from bench.load import Load, wrk_in_background
from bench.logout_latency import WRK_WARM_UP_SECONDS
from bench.report import table
from revocation.entrypoints.http.verify import VERIFY_PATH

LAG_METRIC = "revocation_invalidation_lag_seconds"
PROBE_PREFIX = "rv:probe:"
PROBE_TTL_AFTER_RUN_MS = 60_000
SETTLE_SECONDS = 0.3  # for the last probes' invalidations to be handled

Buckets = dict[float, float]  # upper bound (seconds, inf last) -> cumulative count


@dataclass(frozen=True)
class Lag:
    sent: int
    buckets: Buckets | None  # deltas over the run; None: the service has no such metric
    load: Load


def read_buckets(base_url: str) -> Buckets | None:
    """The lag histogram's cumulative bucket counts from GET /metrics, or None if absent."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    buckets: Buckets = {}
    for family in text_string_to_metric_families(text):
        if family.name != LAG_METRIC:
            continue
        for sample in family.samples:
            if sample.name == LAG_METRIC + "_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return dict(sorted(buckets.items())) or None


async def _probe(redis_url: str, rate: float, seconds: float) -> int:
    client = Redis.from_url(redis_url)
    ttl_ms = round(seconds * 1000) + PROBE_TTL_AFTER_RUN_MS
    try:
        await client.ping()
        started, sent = time.monotonic(), 0
        for sent in range(1, max(1, round(rate * seconds)) + 1):
            await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
            await client.set(f"{PROBE_PREFIX}{time.time_ns()}", "1", px=ttl_ms)
        return sent
    finally:
        await client.aclose()


def measure(
    app: App,
    redis_url: str,
    *,
    load_tokens: Sequence[str],
    connections: int,
    seconds: float,
    rate: float,
) -> Lag:
    before = read_buckets(app.base_url)
    with wrk_in_background(
        app.base_url + VERIFY_PATH, connections=connections, tokens=load_tokens
    ) as wrk:
        time.sleep(WRK_WARM_UP_SECONDS)
        sent = asyncio.run(_probe(redis_url, rate, seconds))
        time.sleep(SETTLE_SECONDS)
    after = read_buckets(app.base_url)
    if wrk.load is None or wrk.load.non_2xx or wrk.load.socket_errors:
        raise RuntimeError(f"{app.label}: the valid-token load beside the probes failed: {wrk}")
    deltas = None
    if after is not None:
        deltas = {bound: count - (before or {}).get(bound, 0.0) for bound, count in after.items()}
    return Lag(sent=sent, buckets=deltas, load=wrk.load)


def bound_of(buckets: Mapping[float, float], fraction: float) -> str:
    """The upper bound of the bucket holding the `fraction` quantile: "<= 2 ms"."""
    total = buckets[math.inf]
    for bound, count in buckets.items():
        if count >= fraction * total:
            return _bound_text(bound)
    return _bound_text(math.inf)


def _bound_text(bound: float) -> str:
    if math.isinf(bound):
        return "> last bucket"
    return f"<= {bound * 1000:g} ms" if bound < 1 else f"<= {bound:g} s"


def lag_table(label: str, lag: Lag) -> str:
    header = ["app", "probes sent", "observed", "p50", "p90", "p99", "max", "valid req/s"]
    if lag.buckets is None or not lag.buckets.get(math.inf):
        missing = "n/a (metric missing)" if lag.buckets is None else "n/a (none observed)"
        row = [label, f"{lag.sent:,}", missing, "", "", "", "", f"{lag.load.rps:,.0f}"]
        return table(header, [row])
    buckets = lag.buckets
    quantiles = [bound_of(buckets, q) for q in (0.5, 0.9, 0.99, 1.0)]
    row = [label, f"{lag.sent:,}", f"{buckets[math.inf]:,.0f}", *quantiles]
    return table(header, [[*row, f"{lag.load.rps:,.0f}"]])
