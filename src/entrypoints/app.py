"""The app factory: `create_app(container)` is the one place that reads the settings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

from dependency_injector import providers
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from adapters.piccolo.engines import start_engine, stop_engine
from entrypoints.containers import Container
from entrypoints.http.auth import revocation_middleware
from entrypoints.http.controllers import InternalController, LogoutController
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.openapi import BEARER_COMPONENTS
from entrypoints.http.verify import verify_router
from entrypoints.settings import Settings

T = TypeVar("T")


@get("/health/live", tags=["health"])
async def live() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


def create_app(container: Container) -> Litestar:
    """A Litestar app on the container's adapters; tests override providers before calling."""
    settings: Settings = container.settings()
    return Litestar(
        route_handlers=[LogoutController, InternalController, live, verify_router()],
        dependencies={
            "logout_token": _bridge(container.logout_token),
            "logout_all_devices": _bridge(container.logout_all_devices),
            "internal_logout_all": _bridge(container.internal_logout_all),
            "internal_issue_token": _bridge(container.internal_issue_token),
            "authenticate_token": _bridge(container.authenticate_token),
        },
        middleware=[revocation_middleware(container.authenticate_token())],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[_connections(container)],
        openapi_config=OpenAPIConfig(
            title="Token revocation service",
            version="2.0.0",
            path="/schema",
            components=BEARER_COMPONENTS,
        ),
        request_max_body_size=settings.max_body_bytes,
        state=State({"trusted_proxies": frozenset(settings.trusted_proxies)}),
    )


def app_from_env() -> Litestar:
    """For ASGI servers (`uvicorn --factory entrypoints.app:app_from_env`)."""
    container = Container(settings=Settings.from_env(os.environ))
    return create_app(container)


def _bridge(factory: providers.Provider[T]) -> Provide:
    """A Litestar dependency that asks the container; no wiring, no markers."""

    def provide() -> T:
        return factory()

    return Provide(provide, sync_to_thread=False)


def _connections(
    container: Container,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Open the database pool at start-up and close pools at shutdown; I/O never at import."""

    @asynccontextmanager
    async def manage(_: Litestar) -> AsyncIterator[None]:
        settings: Settings = container.settings()
        engine = None if container.token_log.overridden else container.database()
        if engine is not None:
            await start_engine(engine)
        try:
            yield
        finally:
            if engine is not None:
                await stop_engine(engine)
            if settings.redis_url and not container.blacklist.overridden:
                await container.redis().aclose()

    return manage
