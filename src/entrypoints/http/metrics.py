"""`GET /metrics`, requests by route and status, and the time each token check takes."""

from __future__ import annotations

import time

from litestar import Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST

from adapters.prometheus_telemetry import PrometheusTelemetry
from domain.model import Claims
from domain.use_cases import AuthenticateToken

# Label values come from a fixed set: a client inventing methods must not invent time series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    """Counts each request by method, route template (never the raw path) and final status."""

    def __init__(self, app: ASGIApp, metrics: PrometheusTelemetry) -> None:
        self._app = app
        self._metrics = metrics

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
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = scope.get("path_template", "unmatched")
            self._metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            self._metrics.request_seconds.labels(method=method, route=route).observe(
                time.perf_counter() - started
            )


class TimedAuthenticate:
    """AuthenticateToken, timed into the check-latency histogram, accepted or refused."""

    def __init__(self, authenticate: AuthenticateToken, metrics: PrometheusTelemetry) -> None:
        self._authenticate = authenticate
        self._metrics = metrics

    async def __call__(self, *, authorization: str | None) -> Claims:
        with self._metrics.check_seconds.time():
            return await self._authenticate(authorization=authorization)


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
