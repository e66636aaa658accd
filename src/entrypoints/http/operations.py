"""What operators get on top of the API: health, metrics and request ids."""

from __future__ import annotations

from litestar import Litestar, Router

from revocation.adapters.prometheus_telemetry import PrometheusTelemetry
from revocation.entrypoints.http.auth import Authenticator
from revocation.entrypoints.http.health import ReadinessProbe, health_router
from revocation.entrypoints.http.metrics import (
    RequestMetricsMiddleware,
    TimedAuthenticate,
    metrics_router,
)
from revocation.entrypoints.http.request_id import RequestIdMiddleware


def operations_routes(probe: ReadinessProbe, metrics: PrometheusTelemetry | None) -> list[Router]:
    """Health always; `/metrics` when metrics are on (`metrics` given)."""
    routes = [health_router(probe)]
    if metrics is not None:
        routes.append(metrics_router(metrics))
    return routes


def instrumented(app: Litestar, metrics: PrometheusTelemetry | None) -> Litestar:
    """Wrap the app's whole ASGI handler, outside routing and the error map.

    Litestar's `middleware=[...]` runs only for matched routes, and an error raised by the
    authentication middleware passes through them before the error map answers: from there a
    401 or a 404 would go unseen. Out here every request gets its id and its real status.
    """
    handler = app.asgi_handler
    if metrics is not None:
        handler = RequestMetricsMiddleware(handler, metrics)
    app.asgi_handler = RequestIdMiddleware(handler)
    return app


def timed(authenticate: Authenticator, metrics: PrometheusTelemetry | None) -> Authenticator:
    """AuthenticateToken, timed into the check-latency histogram when metrics are on."""
    return authenticate if metrics is None else TimedAuthenticate(authenticate, metrics)
