"""The app factory: `create_app(container)` is the one place that reads the settings."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

from dependency_injector import providers
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from revocation.adapters.piccolo.engines import start_engine_even_if_down, stop_engine
from revocation.adapters.watched_blacklist import WatchedBlacklist
from revocation.entrypoints.blacklist_repair import blacklist_repair
from revocation.entrypoints.containers import Container, blacklist_kind
from revocation.entrypoints.http.auth import revocation_middleware
from revocation.entrypoints.http.controllers import InternalController, LogoutController
from revocation.entrypoints.http.cors import WithoutCors, cors_config
from revocation.entrypoints.http.errors import EXCEPTION_HANDLERS
from revocation.entrypoints.http.openapi import BEARER_COMPONENTS
from revocation.entrypoints.http.operations import authenticator, instrumented, operations_routes
from revocation.entrypoints.http.peer import TrustedProxies
from revocation.entrypoints.http.sessions import SessionsController
from revocation.entrypoints.http.verify import VERIFY_PATH, verify_router
from revocation.entrypoints.logs import configure_logging
from revocation.entrypoints.periodic import periodic_purge, refusal_summaries
from revocation.entrypoints.settings import Settings

T = TypeVar("T")


def create_app(container: Container) -> Litestar:
    """A Litestar app on the container's adapters; tests override providers before calling."""
    settings: Settings = container.settings()
    app = Litestar(
        route_handlers=[
            *operations_routes(container),
            LogoutController,
            InternalController,
            SessionsController,
            verify_router(),
        ],
        dependencies={
            "logout_token": _bridge(container.logout_token),
            "logout_all_devices": _bridge(container.logout_all_devices),
            "internal_logout_all": _bridge(container.internal_logout_all),
            "internal_issue_token": _bridge(container.internal_issue_token),
            "list_sessions": _bridge(container.list_sessions),
            "revoke_session": _bridge(container.revoke_session),
            "authenticate_token": _bridge(container.authenticate_token),
        },
        middleware=[revocation_middleware(authenticator(container))],
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=cors_config(settings.cors_allowed_origins),
        lifespan=[
            connections(container),
            periodic_purge(container),
            blacklist_repair(container),
            refusal_summaries(container),
        ],
        logging_config=None,  # the process configures logging once (entrypoints.logs)
        openapi_config=OpenAPIConfig(
            title="Token revocation service",
            version="2.0.0",
            path="/schema",
            components=BEARER_COMPONENTS,
        ),
        request_max_body_size=settings.max_body_bytes,
        state=State({"trusted_proxies": TrustedProxies(settings.trusted_proxies)}),
    )
    if settings.cors_allowed_origins:  # CORS is for browsers; the verify route is for gateways
        app.asgi_handler = WithoutCors(app.asgi_handler, VERIFY_PATH)
    return instrumented(app, container)  # request ids and metrics around everything


def app_from_env() -> Litestar:
    """For ASGI servers (`uvicorn --factory entrypoints.app:app_from_env`)."""
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_format, settings.log_level)  # in each server worker process
    app = create_app(Container(settings=settings))
    # What exists now (modules, the app, the container) lives as long as the process. Frozen, it
    # is left out of the garbage collector's full passes: about 90,000 objects, whose every
    # full pass stalled all requests in flight for 60 to 90 ms, every few seconds under load
    # (measured with gc.callbacks during `make bench`); after it, such a pass takes 1 to 2 ms.
    gc.collect()
    gc.freeze()
    return app


def _bridge(factory: providers.Provider[T]) -> Provide:
    """A Litestar dependency that asks the container; no wiring, no markers."""

    def provide() -> T:
        return factory()

    return Provide(provide, sync_to_thread=False)


def connections(
    container: Container,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Open the database pool at start-up and close pools at shutdown; I/O never at import."""

    @asynccontextmanager
    async def manage(_: Litestar) -> AsyncIterator[None]:
        settings: Settings = container.settings()
        engine = None if container.token_log.overridden else container.database()
        if engine is not None:
            await start_engine_even_if_down(engine)
        tracking = None
        if blacklist_kind(settings) == "local" and not container.blacklist.overridden:
            tracking = container.tracking()
            tracking.on_probe(container.metrics().invalidation_lagged)
            watched = container.blacklist()
            if isinstance(watched, WatchedBlacklist):
                tracking.subscribe(watched.connection_lost)
            await tracking.start()  # connects in the background; no cached answer until then
        try:
            yield
        finally:
            await container.background().drain()  # work that followed the last responses
            if tracking is not None:
                await tracking.stop()
            if engine is not None:
                await stop_engine(engine)
            if settings.redis_url and not container.blacklist.overridden:
                await container.redis().aclose()

    return manage
