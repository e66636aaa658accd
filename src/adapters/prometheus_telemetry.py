"""Telemetry as Prometheus metrics, in a registry of its own, passed on to another Telemetry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from revocation.adapters.loop_metrics import LoopCounter, LoopCounterFamily, LoopHistogramFamily
from revocation.domain.audit import Revocation
from revocation.domain.ports import Telemetry
from revocation.domain.replays import ReplayAlert

# Seconds: a Redis hit takes well under a millisecond, a database check a few.
CHECK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Seconds from a Redis write to its invalidation handled here (the local cache's staleness).
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
LOGOUT_ALL_BUCKETS = (0, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 10_000)


class PrometheusTelemetry:
    """Counts every event, then hands it to `inner` (the structured logs) unchanged.

    The registry is per instance, not prometheus_client's global one: each container (each app
    a test builds) gets its own metrics, and names never collide.
    """

    def __init__(self, inner: Telemetry | None = None) -> None:
        self._inner = inner
        self.registry = CollectorRegistry(auto_describe=True)
        # Updated on every request (a rejection: on every 401): lock-free, from the loop's thread
        # (adapters.loop_metrics).
        self.requests = LoopCounterFamily(
            "revocation_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
        )
        self.request_seconds = LoopHistogramFamily(
            "revocation_http_request_duration_seconds",
            "HTTP request time by route",
            ["method", "route"],
        )
        checks = LoopHistogramFamily(
            "revocation_token_check_duration_seconds",
            "Time to decide whether a bearer token is live (AuthenticateToken)",
            buckets=CHECK_BUCKETS,
        )
        self.rejections = LoopCounterFamily(
            "revocation_token_rejections", "Tokens refused, by reason", ["reason"]
        )
        for family in (self.requests, self.request_seconds, checks, self.rejections):
            self.registry.register(family)
        self.check_seconds = checks.labels()
        self._rejections_by_reason: dict[str, LoopCounter] = {}
        self._inner_rejected = inner.token_rejected if inner is not None else None
        self.revoked = self._counter("tokens_revoked", "Logged tokens blocked, by scope", ["scope"])
        self.logout_all_sizes = Histogram(
            "revocation_logout_all_tokens",
            "Logged tokens blocked by one logout-all",
            buckets=LOGOUT_ALL_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = self._counter(
            "blacklist_fallbacks",
            "Redis failures the database covered, by operation",
            ["operation"],
        )
        self.invalidation_lag = Histogram(
            "revocation_invalidation_lag_seconds",
            "From a probe key's SET to its tracking invalidation handled by this process",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.internal_auth_failures = self._counter(
            "internal_auth_failures", "Internal calls with wrong credentials", ["throttled"]
        )
        self.revocations = self._counter(
            "revocations", "Revocations recorded in the audit trail", ["reason", "actor"]
        )
        self.replays = self._counter(
            "token_replays",
            "Revoked tokens presented again with a valid signature, by what came of them",
            ["outcome"],
        )
        self.replay_alerts = self._counter(
            "replay_alerts", "revoked_token_replayed alerts this process wrote", ["action"]
        )

    def token_rejected(self, reason: str) -> None:
        # Called on every refusal, a flood's whole cost: the reason's counter in one lookup of
        # its (interned) string, not `labels()`'s tuple of arguments and its call.
        counter = self._rejections_by_reason.get(reason)
        if counter is None:
            counter = self._rejections_by_reason[reason] = self.rejections.labels(reason)
        counter.value += 1
        if self._inner_rejected is not None:
            self._inner_rejected(reason)

    def tokens_revoked(self, count: int, *, scope: str) -> None:
        self.revoked.labels(scope=scope).inc(count)
        if scope == "user":
            self.logout_all_sizes.observe(count)
        if self._inner:
            self._inner.tokens_revoked(count, scope=scope)

    def blacklist_unavailable(self, operation: str) -> None:
        self.fallbacks.labels(operation=operation).inc()
        if self._inner:
            self._inner.blacklist_unavailable(operation)

    def internal_auth_failed(self, peer: str, *, throttled: bool) -> None:
        # No peer label: one series per client address would grow without bound. Logs keep it.
        self.internal_auth_failures.labels(throttled=str(throttled).lower()).inc()
        if self._inner:
            self._inner.internal_auth_failed(peer, throttled=throttled)

    def revocation_recorded(
        self, user_id: int, session_id: str | None, revocation: Revocation
    ) -> None:
        self.revocations.labels(revocation.reason.value, revocation.actor.kind).inc()
        if self._inner:
            self._inner.revocation_recorded(user_id, session_id, revocation)

    def replays_handled(self, count: int, *, outcome: str) -> None:
        self.replays.labels(outcome=outcome).inc(count)
        if self._inner:
            self._inner.replays_handled(count, outcome=outcome)

    def replay_alerted(self, alert: ReplayAlert) -> None:
        self.replay_alerts.labels(action=alert.action).inc()
        if self._inner:
            self._inner.replay_alerted(alert)

    def invalidation_lagged(self, seconds: float) -> None:
        """One probe's lag (the tracking listener's `on_probe`); not a domain event."""
        self.invalidation_lag.observe(seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    def _counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        return Counter(f"revocation_{name}", documentation, labels, registry=self.registry)


_: Telemetry = PrometheusTelemetry()
