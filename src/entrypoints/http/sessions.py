"""The caller's sessions: the "where am I logged in" page of an account screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get
from litestar.di import NamedDependency
from litestar.openapi.spec import Operation
from litestar.params import PathParameter

from revocation.domain.model import Claims, Session
from revocation.domain.use_cases import ListSessions, RevokeSession
from revocation.entrypoints.http.openapi import BEARER_SECURITY, UNAUTHORIZED, UNAVAILABLE, error
from revocation.entrypoints.http.peer import peer_address
from revocation.entrypoints.http.schemas import Message

AuthedRequest = Request[Claims, Claims, Any]
SESSION_REVOKED = "Session Revoked."
NOT_FOUND = {404: error("No active session of the caller has that id")}


@dataclass
class RevokeSessionOperation(Operation):
    """Litestar documents a 400 for any path parameter, but text can't fail to parse here:
    every id the caller doesn't own is a 404."""

    def __post_init__(self) -> None:
        if self.responses:
            self.responses.pop("400", None)


UnixSeconds = Annotated[int, msgspec.Meta(description="Unix seconds, like a JWT's iat and exp")]
SessionId = Annotated[str, PathParameter(description="A session's `id` from GET /sessions")]


class SessionBody(msgspec.Struct, frozen=True):
    id: Annotated[str, msgspec.Meta(description="Opaque: pass it back to DELETE as is")]
    device: Annotated[str | None, msgspec.Meta(description="The label given at issuance")]
    issued_at: UnixSeconds
    expires_at: UnixSeconds
    current: Annotated[bool, msgspec.Meta(description="The token making this request")]


class SessionsBody(msgspec.Struct, frozen=True):
    sessions: list[SessionBody]


def _body(session: Session) -> SessionBody:
    return SessionBody(
        id=session.session_id,
        device=session.device,
        issued_at=int(session.issued_at),
        expires_at=int(session.expires_at),
        current=session.current,
    )


class SessionsController(Controller):
    """List the caller's active sessions and log out any one of them."""

    path = "/api/v2/sessions"
    security = BEARER_SECURITY
    tags = ("sessions",)

    @get("/", responses={**UNAUTHORIZED, **UNAVAILABLE})
    async def list_sessions(
        self, request: AuthedRequest, list_sessions: NamedDependency[ListSessions]
    ) -> SessionsBody:
        """The caller's user's active sessions, newest first; `current` marks this token's."""
        sessions = await list_sessions(claims=request.user)
        return SessionsBody(sessions=[_body(session) for session in sessions])

    @delete(
        "/{session_id:str}",
        status_code=200,
        operation_class=RevokeSessionOperation,
        responses={**UNAUTHORIZED, **NOT_FOUND, **UNAVAILABLE},
    )
    async def revoke_session(
        self,
        request: AuthedRequest,
        session_id: SessionId,
        revoke_session: NamedDependency[RevokeSession],
    ) -> Message:
        """Log out one of the caller's own sessions (the current one too), like /logout."""
        peer = peer_address(request, request.app.state.trusted_proxies)
        await revoke_session(claims=request.user, session_id=session_id, peer=peer)
        return Message(message=SESSION_REVOKED)
