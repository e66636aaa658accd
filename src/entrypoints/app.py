"""The app factory: `create_app(container)` is the one place that reads the settings."""

from __future__ import annotations

import gc
import os
from typing import TypeVar

from dependency_injector import providers
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from revocation.adapters.jwks import key_set
from revocation.entrypoints.containers import Container
from revocation.entrypoints.http.auth import revocation_middleware
from revocation.entrypoints.http.controllers import InternalController, LogoutController
from revocation.entrypoints.http.cors import WithoutCors, cors_config
from revocation.entrypoints.http.errors import EXCEPTION_HANDLERS
from revocation.entrypoints.http.gateway import GatewayFirst, GatewayVerify
from revocation.entrypoints.http.gateway_introspection import GatewayIntrospection
from revocation.entrypoints.http.health import ReadinessProbe
from revocation.entrypoints.http.history import HistoryController, InternalHistoryController
from revocation.entrypoints.http.metrics import RequestSeries
from revocation.entrypoints.http.oauth import oauth_router
from revocation.entrypoints.http.openapi import BEARER_COMPONENTS
from revocation.entrypoints.http.openapi_document import (
    DocumentedOpenAPIConfig,
    readable_operation_id,
)
from revocation.entrypoints.http.operations import instrumented, operations_routes, timed
from revocation.entrypoints.http.peer import TrustedProxies
from revocation.entrypoints.http.sessions import SessionsController
from revocation.entrypoints.http.verify import VERIFY_PATH, verify_router
from revocation.entrypoints.logs import configure_logging
from revocation.entrypoints.settings import Settings

T = TypeVar("T")
FULL_PASS_EVERY = 1_000  # middle-generation passes per full one (Python's default: 10)


def create_app(container: Container) -> Litestar:
    """A Litestar app on the container's adapters (`Container(in_memory=True)` for tests)."""
    settings: Settings = container.settings()
    metrics = container.metrics() if settings.metrics_enabled else None
    authenticate = timed(container.authenticate_token(), metrics)
    probe = ReadinessProbe(
        token_log=container.token_log,
        blacklist=container.blacklist,
    )
    app = GatewayFirst(
        route_handlers=[
            *operations_routes(probe, metrics),
            LogoutController,
            InternalController,
            SessionsController,
            HistoryController,
            InternalHistoryController,
            verify_router(),
            oauth_router(),
        ],
        dependencies={
            "logout_token": _bridge(container.logout_token),
            "logout_all_devices": _bridge(container.logout_all_devices),
            "internal_logout_all": _bridge(container.internal_logout_all),
            "internal_issue_token": _bridge(container.internal_issue_token),
            "list_sessions": _bridge(container.list_sessions),
            "revoke_session": _bridge(container.revoke_session),
            "authenticate_token": _bridge(container.authenticate_token),
            "session_history": _bridge(container.session_history),
            "internal_session_history": _bridge(container.internal_session_history),
            "introspect_token": _bridge(container.introspect_token),
            "revoke_oauth_token": _bridge(container.revoke_oauth_token),
        },
        middleware=[revocation_middleware(authenticate)],
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=cors_config(settings.cors_allowed_origins),
        lifespan=[lambda _: container.lifespan()],
        logging_config=None,  # the process configures logging once (entrypoints.logs)
        openapi_config=DocumentedOpenAPIConfig(
            title="Token revocation service",
            version="2.0.0",
            path="/schema",
            components=BEARER_COMPONENTS,
            use_handler_docstrings=True,  # descriptions of routes the catalogue does not list
            operation_id_creator=readable_operation_id,
        ),
        request_max_body_size=settings.max_body_bytes,
        state=State(
            {
                "trusted_proxies": TrustedProxies(settings.trusted_proxies),
                "jwks": key_set(container.jwt_codec().public_jwks),
            }
        ),
    )
    if settings.cors_allowed_origins:  # CORS is for browsers; the verify route is for gateways
        app.asgi_handler = WithoutCors(app.asgi_handler, VERIFY_PATH)
    # The gateways' per-request calls are answered before Litestar's layers (the verify route
    # before Litestar itself, `app.gateway` below): every call to a backend behind them pays.
    app.asgi_handler = GatewayIntrospection(
        app.asgi_handler,
        container.introspect_token(),
        trusted_proxies=app.state.trusted_proxies,
        max_body_bytes=settings.max_body_bytes,
    )
    instrumented(app, metrics)  # request ids and metrics around everything Litestar answers
    app.gateway = GatewayVerify(
        container.authenticate_token(),
        requests=None if metrics is None else RequestSeries(metrics),
        check_seconds=None if metrics is None else metrics.check_seconds,
    )
    return app


def app_from_env() -> Litestar:
    """For ASGI servers (`uvicorn --factory revocation.entrypoints.app:app_from_env`)."""
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_format, settings.log_level)  # in each server worker process
    app = create_app(Container(settings=settings))
    # What exists now (modules, the app, the container) lives as long as the process. Frozen, it
    # is left out of the garbage collector's full passes: about 90,000 objects, whose every
    # full pass stalled all requests in flight for 60 to 90 ms, every few seconds under load
    # (measured with gc.callbacks during `make bench`); after it, such a pass takes 1 to 2 ms.
    gc.collect()
    gc.freeze()
    # Full passes a hundred times rarer (one per 1,000 middle-generation passes, not 10):
    # under cold tokens the caches churn, and a full pass every second or so stalled requests
    # 40 to 60 ms (the cold row's p99: 38 to 57 ms, 7 to 8 ms after; same throughput). Cyclic
    # garbage that outlives two young passes waits longer for its collection, nothing more.
    # Measured on 3.11; a collector that works otherwise (3.14's incremental one) may not need it.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_EVERY)
    return app


def _bridge(factory: providers.Provider[T]) -> Provide:
    """A Litestar dependency that asks the container; no wiring, no markers."""

    def provide() -> T:
        return factory()

    return Provide(provide, sync_to_thread=False)
