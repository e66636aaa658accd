"""Library mode: the same revocation check in front of another team's Litestar app."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from revocation.domain.errors import RevocationError
from revocation.entrypoints.containers import Container
from revocation.entrypoints.http.auth import revocation_middleware
from revocation.entrypoints.http.errors import domain_error_to_response


class RevocationPlugin(InitPluginProtocol):
    """`Litestar(plugins=[RevocationPlugin(container)])`: every route then needs a live token.

    It adds three things: our middleware (`request.user` is the verified `Claims`; it answers a
    refused token itself: 401 `{"title": "Unauthorized"}`, 503 when the database can't decide),
    the same answers for our errors raised elsewhere, and the container's lifespan (its pools
    opened and closed, and the background work its wiring needs).
    """

    def __init__(self, container: Container, *, public_paths: Sequence[str] = ()) -> None:
        self._container = container
        self._public_paths = tuple(public_paths)  # anchored regexes, e.g. r"^/health$"

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        authenticate = self._container.authenticate_token()
        app_config.middleware.append(revocation_middleware(authenticate, self._public_paths))
        # The app keeps its own error answers; a handler it gives for our errors (raised in its
        # handlers, not the middleware's refusals) wins.
        app_config.exception_handlers = {
            RevocationError: domain_error_to_response,
            **app_config.exception_handlers,
        }
        app_config.lifespan.append(lambda _: self._container.lifespan())
        return app_config
