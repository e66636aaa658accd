"""The revocation check in front of every protected route."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp

from domain.use_cases import AuthenticateToken

# Anchored: Litestar searches these regexes anywhere in the path. Everything else is protected,
# so a route added later is closed until someone opens it here on purpose.
PUBLIC_PATHS = (
    r"^/api/v2/lgt-all$",
    r"^/api/v2/internal/",
    r"^/health/",
    r"^/schema(/|$)",
)


class RevocationAuthMiddleware(AbstractAuthenticationMiddleware):
    """Runs AuthenticateToken on the Authorization header; `request.user` is the Claims."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: AuthenticateToken,
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
    authenticate: AuthenticateToken, public_paths: Sequence[str] = PUBLIC_PATHS
) -> DefineMiddleware:
    """The middleware, ready for `Litestar(middleware=[...])` in our app or anyone else's."""
    return DefineMiddleware(
        RevocationAuthMiddleware, authenticate=authenticate, exclude=list(public_paths)
    )
