"""The PASS/FAIL verdicts, by what they promise: every cache mode at least as good as the
hand-written reference ("vs reference"); the local cache at near-zero cost ("near zero");
logout-all and memory bounded ("bounds")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.hot_path import BLACKLISTED, COLD, HELLO, VALID, Figures, paired
from bench.logout_all import Scaling
from bench.logout_latency import LogoutLatency
from bench.report import REFERENCE, Verdict, service_label

LOGOUT_P99_MS = 60

FigureMap = Mapping[tuple[str, str], Figures]


def versus_reference(figures: FigureMap, mode: str) -> list[Verdict]:
    """The hot path in one cache mode against the hand-written reference."""
    tag = f"vs reference, cache={mode}:"
    label = service_label(mode)
    ours, theirs = figures[(label, VALID)], figures[(REFERENCE, VALID)]
    rejected = figures[(label, BLACKLISTED)]
    return [
        _ratio(f"{tag} valid token: throughput >= 0.9x reference", ours.rps, theirs.rps, 0.9),
        Verdict(
            f"{tag} valid token: p99 <= 1.2x reference",
            ours.p99_ms <= 1.2 * theirs.p99_ms,
            f"{ours.p99_ms / theirs.p99_ms:.2f}x",
        ),
        _as_fast(
            f"{tag} blacklisted at least as fast as valid (req/s and p50, paired by round)",
            rejected,
            ours,
            p50=True,
        ),
    ]


def near_zero(
    figures: FigureMap, mode: str, hello_label: str, logout: LogoutLatency | None
) -> list[Verdict]:
    """The check at near-zero cost, in one cache mode (the local one)."""
    tag = f"near zero, cache={mode}:"
    label = service_label(mode)
    ours, theirs = figures[(label, VALID)], figures[(REFERENCE, VALID)]
    hello, rejected = figures[(hello_label, HELLO)], figures[(label, BLACKLISTED)]
    result = [
        _ratio(f"{tag} valid token: throughput >= 4x reference", ours.rps, theirs.rps, 4),
        _ratio(f"{tag} valid token: throughput >= 0.5x own hello", ours.rps, hello.rps, 0.5),
        Verdict(
            f"{tag} valid token: p99 <= reference p99",
            ours.p99_ms <= theirs.p99_ms,
            f"{ours.p99_ms:.2f} vs {theirs.p99_ms:.2f} ms",
        ),
        _as_fast(
            f"{tag} blacklisted req/s >= valid req/s (paired by round), at the default LOG_LEVEL "
            "(INFO)",
            rejected,
            ours,
        ),
    ]
    if logout is not None:
        result.append(
            Verdict(
                f"{tag} logout p99 <= {LOGOUT_P99_MS} ms under load, lease wait included",
                logout.p99_ms <= LOGOUT_P99_MS,
                f"{logout.p99_ms:.1f} ms ({logout.logouts:,} logouts)",
            )
        )
    return result


def gateway(figures: FigureMap, mode: str, bare_label: str) -> list[Verdict]:
    """The verify route against the server's ceiling (a bare ASGI hello), and cold tokens
    (more than any cache holds) against the hand-written reference."""
    tag = f"gateway, cache={mode}:"
    label = service_label(mode)
    ours, bare = figures[(label, VALID)], figures[(bare_label, HELLO)]
    cold, cold_ref = figures[(label, COLD)], figures[(REFERENCE, COLD)]
    return [
        _ratio(f"{tag} warm tokens: throughput >= 0.5x bare ASGI hello", ours.rps, bare.rps, 0.5),
        Verdict(
            f"{tag} warm tokens: p99 <= 2x bare ASGI hello's",
            ours.p99_ms <= 2 * bare.p99_ms,
            f"{ours.p99_ms:.2f} vs {bare.p99_ms:.2f} ms",
        ),
        _ratio(f"{tag} cold tokens: throughput >= 2.5x reference", cold.rps, cold_ref.rps, 2.5),
        Verdict(
            f"{tag} cold tokens: p99 <= reference p99",
            cold.p99_ms <= cold_ref.p99_ms,
            f"{cold.p99_ms:.2f} vs {cold_ref.p99_ms:.2f} ms",
        ),
    ]


def replay_watch(figures: FigureMap, mode: str, off_label: str) -> list[Verdict]:
    """The replay watch (on by default) against the same app without it, in the same run.

    Only a refusal can be a replay, so what the watch costs shows in the blacklisted row; each
    app's is taken relative to its own valid row, which the watch never touches: two processes
    running the very same code differ by several percent, and that is not the watch's doing."""
    tag = f"replay watch, cache={mode}:"
    on = [figures[(service_label(mode), case)].rps_by_round for case in (VALID, BLACKLISTED)]
    off = [figures[(off_label, case)].rps_by_round for case in (VALID, BLACKLISTED)]
    with_it, without = paired(on[1], on[0]), paired(off[1], off[0])
    return [
        Verdict(
            f"{tag} blacklisted/valid req/s (paired by round) >= 0.95x that with REPLAY_POLICY=off",
            with_it >= 0.95 * without,
            f"{with_it / without:.2f}x ({with_it:.2f} vs {without:.2f})",
        )
    ]


def logout_all_and_memory(scaling: Sequence[Scaling], redis_bytes: float) -> list[Verdict]:
    """Logout-all's round trips and time, and Redis memory per blacklisted token."""
    result = []
    if scaling:
        trips = {(row.service_db.round_trips, row.service_redis.round_trips) for row in scaling}
        largest = max(scaling, key=lambda row: row.tokens)
        result += [
            Verdict(
                "bounds: logout-all: round trips independent of N",
                len(trips) == 1,
                "(SQL, Redis) round trips per N: " + ", ".join(f"{t}" for t in sorted(trips)),
            ),
            Verdict(
                f"bounds: logout-all of {largest.tokens:,} tokens <= 100 ms",
                largest.service_ms <= 100,
                f"{largest.service_ms:.1f} ms",
            ),
        ]
    result.append(
        Verdict(
            "bounds: Redis <= 120 bytes per blacklisted token",
            redis_bytes <= 120,
            f"{redis_bytes:.1f}",
        )
    )
    return result


def _as_fast(name: str, rejected: Figures, accepted: Figures, *, p50: bool = False) -> Verdict:
    """Refusals at least as fast as acceptances, by the rows' ratio within each round (both
    medians shown too)."""
    rps = paired(rejected.rps_by_round, accepted.rps_by_round)
    detail = f"{rps:.2f}x ({rejected.rps:,.0f} vs {accepted.rps:,.0f} req/s)"
    if not p50:
        return Verdict(name, rps >= 1, detail)
    latency = paired(rejected.p50_by_round, accepted.p50_by_round)
    detail += f", p50 {latency:.2f}x ({rejected.p50_ms:.2f} vs {accepted.p50_ms:.2f} ms)"
    return Verdict(name, rps >= 1 and latency <= 1, detail)


def _ratio(target: str, ours: float, theirs: float, at_least: float) -> Verdict:
    return Verdict(target, ours >= at_least * theirs, f"{ours / theirs:.2f}x")
