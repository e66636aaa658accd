"""OAuth 2.0's standard doors to the same checks: introspection (RFC 7662), revocation
(RFC 7009) and the metadata naming them (RFC 8414), for software that speaks OAuth
(mod_auth_openidc, Kong, oauth2-proxy, Authlib) with no code of ours on its side."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType

from revocation.domain.model import Claims
from revocation.domain.use_cases import IntrospectToken, RevokeOAuthToken
from revocation.entrypoints.http.oauth_answers import (
    NO_STORE,
    OAUTH_EXCEPTION_HANDLERS,
    form_values,
    request_client,
    single,
)
from revocation.entrypoints.http.oauth_openapi import OAUTH_ERROR_RESPONSES, OAuthFormOperation

INTROSPECTION_PATH = "/oauth/introspect"
REVOCATION_PATH = "/oauth/revoke"
METADATA_PATH = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/.well-known/jwks.json"
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class Introspection(msgspec.Struct, frozen=True, omit_defaults=True):
    """RFC 7662 section 2.2: `{"active": false}` alone for every token that is not live."""

    active: bool
    sub: str | None = None
    jti: str | None = None
    exp: int | None = None
    iat: int | None = None
    iss: str | None = None
    token_type: str | None = None


def introspection_of(claims: Claims | None) -> Introspection:
    if claims is None:
        return Introspection(active=False)
    return Introspection(
        active=True,
        sub=str(claims.user_id),
        jti=claims.key.jti,
        exp=claims.expires_at,
        iat=claims.issued_at,
        iss=claims.key.issuer or None,
        token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
    )


_FORM_ROUTE: dict[str, Any] = {
    "status_code": 200,
    "tags": ["oauth"],
    "operation_class": OAuthFormOperation,
    "responses": OAUTH_ERROR_RESPONSES,
}


@post(INTROSPECTION_PATH, **_FORM_ROUTE)
async def introspect(
    request: Request[Any, Any, Any], introspect_token: NamedDependency[IntrospectToken]
) -> Response[Introspection]:
    """RFC 7662: whether a token is live, by the check every protected route runs."""
    form = await request.form()
    client = request_client(request, form)
    claims = await introspect_token(client=client, token=single(form_values(form), "token"))
    return Response(introspection_of(claims), headers=NO_STORE)


@post(REVOCATION_PATH, media_type=MediaType.TEXT, **_FORM_ROUTE)
async def revoke(
    request: Request[Any, Any, Any], revoke_oauth_token: NamedDependency[RevokeOAuthToken]
) -> Response[bytes]:
    """RFC 7009: revoke a token as its user's logout would; 200 also for an unknown one."""
    form = await request.form()
    client = request_client(request, form)
    await revoke_oauth_token(client=client, token=single(form_values(form), "token"))
    return Response(b"", headers=NO_STORE, media_type=MediaType.TEXT)


@get(METADATA_PATH, tags=["oauth"])
async def metadata(request: Request[Any, Any, Any]) -> dict[str, object]:
    """RFC 8414: where the endpoints are and how clients authenticate there. The issuer is
    the URL this request reached (set the proxy's Host through to the service)."""
    base = str(request.base_url).rstrip("/")
    document: dict[str, object] = {
        "issuer": base,
        "introspection_endpoint": base + INTROSPECTION_PATH,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint": base + REVOCATION_PATH,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "response_types_supported": [],  # no authorization endpoint: this server issues none
    }
    if request.app.state.jwks["keys"]:  # HMAC secrets are never published
        document["jwks_uri"] = base + JWKS_PATH
    return document


@get(JWKS_PATH, tags=["oauth"])
async def jwks(request: Request[Any, Any, Any]) -> Response[dict[str, list[dict[str, str]]]]:
    """RFC 7517: every public key that verifies our tokens, each named by its `kid`; empty
    with HMAC. Cacheable briefly: a rotation publishes the new key before it signs anything."""
    return Response(request.app.state.jwks, headers={"Cache-Control": "max-age=300"})


def oauth_router() -> Router:
    return Router(
        "/",
        route_handlers=[introspect, revoke, metadata, jwks],
        exception_handlers=OAUTH_EXCEPTION_HANDLERS,
    )
