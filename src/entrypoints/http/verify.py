"""The gateway's question, "is this token still good?": nginx auth_request, Traefik, Envoy.

The service answers it before Litestar (`gateway.GatewayVerify`); the routes here describe it in
the OpenAPI schema, and answer the same way wherever a request reaches them.

Every method gets the same answer. nginx's auth_request and Traefik's ForwardAuth call with GET,
but Envoy's ext_authz (HTTP service) forwards the client's own method, OPTIONS included; a
method we refused would break that route, and one we answered unchecked would open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Router, route
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import HttpMethod, MediaType
from litestar.openapi.spec import OpenAPIType, Operation, Parameter, Schema
from litestar.types import ASGIApp, Receive, Scope, Send

from revocation.domain.model import Claims
from revocation.domain.use_cases import AuthenticateToken
from revocation.entrypoints.http.auth import authorization_header
from revocation.entrypoints.http.openapi import BEARER_SECURITY, UNAUTHORIZED, UNAVAILABLE

VERIFY_PATH = "/api/v2/auth/verify"
VERIFY_METHODS = [
    HttpMethod.GET,
    HttpMethod.HEAD,
    HttpMethod.POST,
    HttpMethod.PUT,
    HttpMethod.PATCH,
    HttpMethod.DELETE,
]
_DOCUMENTED_HEADERS = [
    ResponseHeader(name="X-User-Id", description="The token's user id", documentation_only=True),
    ResponseHeader(name="X-Token-Jti", description="The token's jti", documentation_only=True),
    ResponseHeader(
        name="X-Token-Expires-At", description="exp, Unix seconds", documentation_only=True
    ),
    ResponseHeader(
        name="X-Token-Issuer", description="iss, when the token has one", documentation_only=True
    ),
]


def verified_headers(claims: Claims) -> dict[str, str]:
    """What a gateway copies upstream; `no-store` so no cache answers for a revoked token.

    `jti` and `iss` are any string the issuer signed: outside printable ASCII (a line break
    would split the response, a non-Latin-1 character can't be sent) they are percent-encoded
    as UTF-8, like a URL; every ordinary value is unchanged.
    """
    headers = {
        "X-User-Id": str(claims.user_id),
        "X-Token-Jti": header_safe(claims.key.jti),
        "X-Token-Expires-At": str(claims.expires_at),
        "Cache-Control": "no-store",
    }
    if claims.key.issuer:
        headers["X-Token-Issuer"] = header_safe(claims.key.issuer)
    return headers


def header_safe(value: str) -> str:
    if value.isascii() and value.isprintable() and "%" not in value:
        return value  # the usual jti or issuer: what quote would give, without its cost
    return quote(value, safe=_PRINTABLE_BUT_PERCENT)


_PRINTABLE_BUT_PERCENT = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


class VerifiedAnswer:
    """The 200 for a live token as raw ASGI messages.

    Litestar's Response machinery (header objects, media-type negotiation, encoders) cost more
    than the whole cached check on this route, which every API call behind a gateway pays for.
    """

    __slots__ = ("claims", "headers")

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        headers = [
            (name.lower().encode(), v.encode()) for name, v in verified_headers(claims).items()
        ]
        self.headers = (*headers, *_EMPTY_TEXT_BODY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A fresh list: the answer may be sent again, and middlewares may add headers in place.
        headers = list(self.headers)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


_EMPTY_TEXT_BODY = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"0")]


@dataclass
class VerifyOperation(Operation):
    """Litestar documents a `:path` parameter as format "uri", but "orders/42" is a path, not a
    URI: documented as a plain string, so a client generating from the schema can call it."""

    def __post_init__(self) -> None:
        for parameter in self.parameters or []:
            if isinstance(parameter, Parameter) and parameter.name == "forwarded_path":
                parameter.schema = Schema(type=OpenAPIType.STRING)


_ROUTE_OPTIONS: dict[str, Any] = {
    # Envoy's `path_prefix` appends the client's path: /api/v2/auth/verify/orders is a check too.
    "path": ["/", "/{forwarded_path:path}"],
    "status_code": 200,
    "operation_class": VerifyOperation,
    "media_type": MediaType.TEXT,  # the 200 has an empty body: documented as text, not JSON
    "responses": {**UNAUTHORIZED, **UNAVAILABLE},
    "response_headers": _DOCUMENTED_HEADERS,
    "opt": {"exclude_from_auth": True},  # the handler checks the token itself
}


@route(http_method=[*VERIFY_METHODS, HttpMethod.OPTIONS], **_ROUTE_OPTIONS)
async def verify(
    request: Request[Any, Any, Any], authenticate_token: NamedDependency[AuthenticateToken]
) -> ASGIApp:
    """200 with the live token's identity in headers; 401 or 503 from the error table.

    OPTIONS is listed, or Litestar adds its own unchecked 204 for it; the authentication
    middleware leaves this route to its own check (`exclude_from_auth`), as it lets every
    OPTIONS by for CORS preflights (CORS never applies to this route: `cors.WithoutCors`).
    """
    claims = await authenticate_token(authorization=authorization_header(request.scope["headers"]))
    return VerifiedAnswer(claims)


def verify_router() -> Router:
    """The verify route, every method through one checked handler."""
    return Router(
        VERIFY_PATH,
        route_handlers=[verify],
        security=BEARER_SECURITY,
        tags=["gateway"],
    )
