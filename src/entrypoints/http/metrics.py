"""`GET /metrics`, requests by route and status, and the time each token check takes."""

from __future__ import annotations

import time

from litestar import Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST

from revocation.adapters.loop_metrics import LoopCounter, LoopHistogram
from revocation.adapters.prometheus_telemetry import PrometheusTelemetry
from revocation.domain.model import Claims
from revocation.entrypoints.http.auth import Authenticator

# Label values come from a fixed set: a client inventing methods must not invent time series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestSeries:
    """Each request counted by method, route template (never the raw path) and final status,
    and timed by method and route."""

    def __init__(self, metrics: PrometheusTelemetry) -> None:
        self._metrics = metrics
        # (method, route, status) -> its two series, found with one lookup instead of two.
        # Bounded: methods are a fixed set, routes are templates, statuses are few.
        self._series: dict[tuple[str, str, int], tuple[LoopCounter, LoopHistogram]] = {}

    def note(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        series = self._series.get((method, route, status)) or self._add(method, route, status)
        series[0].inc()
        series[1].observe(seconds)

    def _add(self, method: str, route: str, status: int) -> tuple[LoopCounter, LoopHistogram]:
        series = (
            self._metrics.requests.labels(method, route, str(status)),
            self._metrics.request_seconds.labels(method, route),
        )
        self._series[(method, route, status)] = series
        return series


class RequestMetricsMiddleware:
    """`RequestSeries` around every request the app answers."""

    def __init__(self, app: ASGIApp, metrics: PrometheusTelemetry) -> None:
        self._app = app
        self._series = RequestSeries(metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before starting a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_note)
        finally:
            route = scope.get("path_template", "unmatched")
            self._series.note(scope["method"], route, status, time.perf_counter() - started)


class TimedAuthenticate:
    """AuthenticateToken, timed into the check-latency histogram, accepted or refused."""

    def __init__(self, authenticate: Authenticator, metrics: PrometheusTelemetry) -> None:
        self._authenticate = authenticate
        self._seconds = metrics.check_seconds

    async def __call__(self, *, authorization: str | None) -> Claims:
        started = time.perf_counter()
        try:
            return await self._authenticate(authorization=authorization)
        finally:
            self._seconds.observe(time.perf_counter() - started)


@get("/metrics", tags=["health"], include_in_schema=False)
async def metrics_endpoint(metrics: NamedDependency[PrometheusTelemetry]) -> Response[bytes]:
    """Prometheus' text exposition of this process's metrics."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def metrics_router(metrics: PrometheusTelemetry) -> Router:
    return Router(
        path="/",
        route_handlers=[metrics_endpoint],
        dependencies={"metrics": Provide(lambda: metrics, sync_to_thread=False)},
    )
