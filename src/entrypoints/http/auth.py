"""The revocation check in front of every protected route."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp

from domain.model import Claims

# Anchored: Litestar searches these regexes anywhere in the path. Everything else is protected,
# so a route added later is closed until someone opens it here on purpose.
PUBLIC_PATHS = (
    r"^/api/v2/lgt-all$",
    r"^/api/v2/internal/",
    r"^/health/",
    r"^/metrics$",
    r"^/schema(/|$)",
)


class Authenticator(Protocol):
    """AuthenticateToken, or anything that wraps it (the metrics time it)."""

    async def __call__(self, *, authorization: str | None) -> Claims: ...


class RevocationAuthMiddleware(AbstractAuthenticationMiddleware):
    """Runs AuthenticateToken on the Authorization header; `request.user` is the Claims."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: Authenticator,
        exclude: str | list[str] | None = None,
    ) -> None:
        super().__init__(app, exclude=exclude)
        self._authenticate = authenticate

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        claims = await self._authenticate(authorization=connection.headers.get("authorization"))
        return AuthenticationResult(user=claims, auth=claims)


def revocation_middleware(
    authenticate: Authenticator, public_paths: Sequence[str] = PUBLIC_PATHS
) -> DefineMiddleware:
    """The middleware, ready for `Litestar(middleware=[...])` in our app or anyone else's."""
    return DefineMiddleware(
        RevocationAuthMiddleware, authenticate=authenticate, exclude=list(public_paths)
    )
