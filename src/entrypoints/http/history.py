"""The history of ended sessions: the caller's own (bearer token), or any user's for the trusted
service (app credentials, in the JSON body or HTTP Basic, never in a query string)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter

from revocation.domain.app_gate import InternalCall
from revocation.domain.audit import CURSOR_PATTERN, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from revocation.domain.model import Claims
from revocation.domain.use_cases import InternalSessionHistory, SessionHistory
from revocation.entrypoints.http.auth import authorization_header
from revocation.entrypoints.http.controllers import json_object
from revocation.entrypoints.http.history_bodies import (
    HistoryBody,
    ServiceHistoryBody,
    service_view,
    user_view,
)
from revocation.entrypoints.http.openapi import (
    BEARER_SECURITY,
    HISTORY_ERRORS,
    INTERNAL_HISTORY_ERRORS,
    InternalHistoryOperation,
)
from revocation.entrypoints.http.peer import peer_address

AuthedRequest = Request[Claims, Claims, Any]
Cursor = Annotated[
    str | None,
    Parameter(description="`next_cursor` of the previous page", pattern=CURSOR_PATTERN),
]
Limit = Annotated[int, Parameter(description="Records per page", ge=1, le=MAX_PAGE_SIZE)]


class HistoryController(Controller):
    """The caller's user's ended sessions."""

    path = "/api/v2/sessions/history"
    security = BEARER_SECURITY
    tags = ("sessions",)

    @get("/", responses=HISTORY_ERRORS)
    async def history(
        self,
        request: AuthedRequest,
        session_history: NamedDependency[SessionHistory],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> HistoryBody:
        """Ended sessions of the caller's user, newest first: when, which device, why, by whom."""
        page = await session_history(claims=request.user, cursor=cursor, limit=limit)
        return user_view(page)


class InternalHistoryController(Controller):
    """Any user's ended sessions, for the trusted service."""

    path = "/api/v2/internal"
    tags = ("internal",)

    @post(
        "/sessions/history",
        status_code=200,
        operation_class=InternalHistoryOperation,
        responses=INTERNAL_HISTORY_ERRORS,
    )
    async def history(
        self,
        request: Request[Any, Any, Any],
        internal_session_history: NamedDependency[InternalSessionHistory],
    ) -> ServiceHistoryBody:
        """A user's ended sessions, as the history endpoint shows them and more. Internal use."""
        fields = await json_object(request)
        posted = fields.get("app_id"), fields.get("app_key")
        app_id, app_key = basic_credentials(request.scope["headers"]) or posted
        call = InternalCall(
            user_id=fields.get("user_id"),
            app_id=app_id,
            app_key=app_key,
            peer=peer_address(request, request.app.state.trusted_proxies),
        )
        page = await internal_session_history(
            call=call, cursor=fields.get("cursor"), limit=fields.get("limit")
        )
        return service_view(page)


def basic_credentials(headers: Iterable[tuple[bytes, bytes]]) -> tuple[object, object] | None:
    """(app_id, app_key) from `Authorization: Basic`, None without one; a malformed one gives
    empty credentials (refused as missing), never the body's instead."""
    header = authorization_header(headers)
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(" "), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "", ""
    app_id, colon, app_key = decoded.partition(":")
    return (app_id, app_key) if colon else ("", "")
