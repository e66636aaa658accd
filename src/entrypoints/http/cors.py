"""CORS for browser clients (the spec's `logout()` example calls us from a web page)."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

# The bearer token travels in a header, never in a cookie, so no credentials mode is needed,
# and a page can't make the browser send anything the caller didn't put there itself.
ALLOWED_METHODS = ["GET", "POST", "DELETE", "OPTIONS"]
ALLOWED_HEADERS = ["Authorization", "Content-Type"]
PREFLIGHT_CACHE_SECONDS = 600


def cors_config(allowed_origins: Sequence[str]) -> CORSConfig | None:
    """None (CORS off: browsers refuse cross-origin calls) unless origins are configured."""
    if not allowed_origins:
        return None
    return CORSConfig(
        allow_origins=list(allowed_origins),
        allow_methods=ALLOWED_METHODS,  # type: ignore[arg-type]
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=False,
        max_age=PREFLIGHT_CACHE_SECONDS,
    )


class WithoutCors:
    """Hides the `Origin` header of requests under `path` from Litestar's CORS, which applies
    to the whole app and answers any OPTIONS with an allowed Origin itself, unchecked.

    For the verify route: gateways call it, browsers have no business there, and its only 2xx
    must mean "a live token". Without an Origin, its OPTIONS reaches its own handler, which
    checks the token like every other method.
    """

    def __init__(self, app: ASGIApp, path: str) -> None:
        self._app = app
        self._path = path
        self._below = path + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and (
            scope["path"] == self._path or scope["path"].startswith(self._below)
        ):
            scope["headers"] = [(name, v) for name, v in scope["headers"] if name != _ORIGIN]
        await self._app(scope, receive, send)


_ORIGIN = b"origin"  # ASGI servers lower-case header names
