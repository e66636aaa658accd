"""The revocation check in front of every protected route."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from revocation.domain.errors import RevocationError
from revocation.domain.model import Claims
from revocation.entrypoints.http.errors import send_domain_error
from revocation.entrypoints.http.peer import checked_request

# Anchored: Litestar searches these regexes anywhere in the path. Everything else is protected,
# so a route added later is closed until someone opens it here on purpose.
PUBLIC_PATHS = (
    r"^/api/v2/lgt-all$",
    r"^/api/v2/internal/",
    r"^/health/",
    r"^/metrics$",
    r"^/schema(/|$)",
    r"^/oauth/(introspect|revoke)$",  # the client authenticates; the token is a parameter
    r"^/\.well-known/",
)
_AUTHORIZATION = b"authorization"  # ASGI servers lower-case header names


class Authenticator(Protocol):
    """AuthenticateToken, or anything that wraps it (the metrics time it)."""

    async def __call__(self, *, authorization: str | None) -> Claims: ...


class RevocationAuthMiddleware(ASGIMiddleware):
    """Runs AuthenticateToken on the Authorization header; `request.user` is the Claims.

    A refused request is answered here, from the same table as every other error: raising
    instead would send each 401 through Litestar's exception machinery, which costs a
    rejected token more than an accepted one.
    """

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)
    exclude_opt_key = "exclude_from_auth"

    def __init__(self, authenticate: Authenticator, public_paths: Sequence[str]) -> None:
        self._authenticate = authenticate
        self.should_bypass_for_scope = _bypass(public_paths)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        authorization = authorization_header(scope["headers"])
        checking = checked_request.set(scope)  # who sent it, should the token be a replay
        try:
            claims = await self._authenticate(authorization=authorization)
        except RevocationError as error:
            if scope["type"] != ScopeType.HTTP:
                raise
            await send_domain_error(error, send)
            return
        finally:
            checked_request.reset(checking)
        scope["user"] = claims
        scope["auth"] = claims
        await next_app(scope, receive, send)


def authorization_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The request's Authorization header. Several lines are joined into one list (RFC 9110),
    which never parses as one Bearer credential: a proxy that reads another line than we do
    must not get another answer."""
    found: bytes | None = None
    for name, value in headers:
        if name == _AUTHORIZATION:
            found = value if found is None else found + b", " + value
    return None if found is None else found.decode("latin-1")


def _bypass(public_paths: Sequence[str]) -> Callable[[Scope], bool]:
    """Public paths (searched in the request's path, as Litestar 2 does) and CORS preflights,
    which carry no credentials: the CORS middleware answers them."""
    public = re.compile("|".join(public_paths)) if public_paths else None

    def bypass(scope: Scope) -> bool:
        if scope.get("method") == "OPTIONS":
            return True
        return public is not None and public.search(scope["path"]) is not None

    return bypass


def revocation_middleware(
    authenticate: Authenticator, public_paths: Sequence[str] = PUBLIC_PATHS
) -> RevocationAuthMiddleware:
    """The middleware, ready for `Litestar(middleware=[...])` in our app or anyone else's."""
    return RevocationAuthMiddleware(authenticate, public_paths)
