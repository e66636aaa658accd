"""The spec's three endpoints and token issuance: parse, call one use case, answer."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency

from revocation.domain.app_gate import InternalCall
from revocation.domain.audit import Reason, Revocation
from revocation.domain.model import Claims
from revocation.domain.use_cases import (
    InternalIssueToken,
    InternalLogoutAll,
    LogoutAllDevices,
    LogoutToken,
)
from revocation.entrypoints.http.openapi import (
    BEARER_SECURITY,
    INTERNAL_ERRORS,
    ISSUANCE_ERRORS,
    UNAUTHORIZED,
    UNAVAILABLE,
    IssueTokenOperation,
    LgtAllOperation,
)
from revocation.entrypoints.http.peer import peer_address
from revocation.entrypoints.http.schemas import (
    LOGGED_OUT,
    LOGGED_OUT_EVERYWHERE,
    IssuedTokenBody,
    Message,
)

AuthedRequest = Request[Claims, Claims, Any]


class LogoutController(Controller):
    """The caller logs out its own token, or every token of its user."""

    path = "/api/v2"
    security = BEARER_SECURITY
    tags = ("logout",)

    @post("/logout", status_code=200, responses={**UNAUTHORIZED, **UNAVAILABLE})
    async def logout(
        self, request: AuthedRequest, logout_token: NamedDependency[LogoutToken]
    ) -> Message:
        """Block the caller's bearer token everywhere."""
        revocation = by_caller(request, Reason.LOGOUT)
        await logout_token(claims=request.user, revocation=revocation)
        return Message(message=LOGGED_OUT)

    @post("/logout-all-device", status_code=200, responses={**UNAUTHORIZED, **UNAVAILABLE})
    async def logout_all_device(
        self, request: AuthedRequest, logout_all_devices: NamedDependency[LogoutAllDevices]
    ) -> Message:
        """Block every token of the caller's user, on every device."""
        revocation = by_caller(request, Reason.LOGOUT_ALL)
        await logout_all_devices(user_id=request.user.user_id, revocation=revocation)
        return Message(message=LOGGED_OUT_EVERYWHERE)


class InternalController(Controller):
    """Service-to-service calls (the Laravel app), guarded by APP_ID and APP_KEY."""

    path = "/api/v2"
    tags = ("internal",)

    @post("/lgt-all", status_code=200, operation_class=LgtAllOperation, responses=INTERNAL_ERRORS)
    async def lgt_all(
        self,
        request: Request[Any, Any, Any],
        internal_logout_all: NamedDependency[InternalLogoutAll],
    ) -> Message:
        """Log a user out of every device. Internal use only."""
        call, fields = await internal_call(request)
        await internal_logout_all(call=call, reason=fields.get("reason"))
        return Message(message=LOGGED_OUT_EVERYWHERE)

    @post(
        "/internal/tokens",
        status_code=200,
        operation_class=IssueTokenOperation,
        responses=ISSUANCE_ERRORS,
    )
    async def issue_token(
        self,
        request: Request[Any, Any, Any],
        internal_issue_token: NamedDependency[InternalIssueToken],
    ) -> IssuedTokenBody:
        """Issue (and log) an access token for a user. Internal use only."""
        call, fields = await internal_call(request)
        issued = await internal_issue_token(call=call, device=fields.get("device"))
        return IssuedTokenBody(
            token=issued.token,
            token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
            expires_at=int(issued.record.expires_at),
            jti=issued.record.key.jti,
        )


def by_caller(request: AuthedRequest, reason: Reason) -> Revocation:
    """The audit trail's who and why of a revocation the token's own user asks for."""
    peer = peer_address(request, request.app.state.trusted_proxies)
    return Revocation.by_user(reason, request.user.key, peer)


async def internal_call(request: Request[Any, Any, Any]) -> tuple[InternalCall, dict[str, object]]:
    """The internal caller's credentials and user id as sent, and the whole body."""
    fields = await json_object(request)
    call = InternalCall(
        user_id=fields.get("user_id"),
        app_id=fields.get("app_id"),
        app_key=fields.get("app_key"),
        peer=peer_address(request, request.app.state.trusted_proxies),
    )
    return call, fields


async def json_object(request: Request[Any, Any, Any]) -> dict[str, object]:
    """The body as a JSON object whatever its Content-Type; {} when it is anything else.

    An empty dict makes the use case answer the spec's first failed rule (no user id).
    """
    try:
        decoded = msgspec.json.decode(await request.body())
    except (msgspec.DecodeError, ValueError, RecursionError):
        # ValueError: bytes that are not UTF-8; RecursionError: JSON nested thousands deep.
        return {}
    return decoded if isinstance(decoded, dict) else {}
