"""What operators get on top of the API: health, metrics and request ids, from the settings."""

from __future__ import annotations

from litestar import Litestar, Router

from revocation.entrypoints.containers import Container
from revocation.entrypoints.http.auth import Authenticator
from revocation.entrypoints.http.health import ReadinessProbe, health_router
from revocation.entrypoints.http.metrics import (
    RequestMetricsMiddleware,
    TimedAuthenticate,
    metrics_router,
)
from revocation.entrypoints.http.request_id import RequestIdMiddleware

READY_TIMEOUT_SECONDS = 1.0  # a probe that waits longer than this is "not ready" anyway


def operations_routes(container: Container) -> list[Router]:
    routes = [
        health_router(
            ReadinessProbe(
                token_log=container.token_log,
                blacklist=container.blacklist,
                timeout_seconds=READY_TIMEOUT_SECONDS,
            )
        )
    ]
    if container.settings().metrics_enabled:
        routes.append(metrics_router(container.metrics()))
    return routes


def instrumented(app: Litestar, container: Container) -> Litestar:
    """Wrap the app's whole ASGI handler, outside routing and the error map.

    Litestar's `middleware=[...]` runs only for matched routes, and an error raised by the
    authentication middleware passes through them before the error map answers: from there a
    401 or a 404 would go unseen. Out here every request gets its id and its real status.
    """
    handler = app.asgi_handler
    if container.settings().metrics_enabled:
        handler = RequestMetricsMiddleware(handler, container.metrics())
    app.asgi_handler = RequestIdMiddleware(handler)
    return app


def authenticator(container: Container) -> Authenticator:
    """AuthenticateToken, timed into the check-latency histogram when metrics are on."""
    authenticate = container.authenticate_token()
    if container.settings().metrics_enabled:
        return TimedAuthenticate(authenticate, container.metrics())
    return authenticate
