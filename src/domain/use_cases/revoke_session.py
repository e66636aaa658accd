"""DELETE /api/v2/sessions/{id}: log out one of the caller's own sessions."""

from __future__ import annotations

import math

from revocation.domain.audit import Reason, Revocation
from revocation.domain.errors import SessionNotFound
from revocation.domain.model import Claims
from revocation.domain.ports import Clock, TokenLog
from revocation.domain.use_cases.logout_token import LogoutToken


class RevokeSession:
    """Find the session among the caller's own active ones, then log it out like LogoutToken.

    Searching only the caller's sessions is the authorisation: another user's id, an unknown
    one and an ended one all look alike (SessionNotFound), so ids reveal nothing. A user has
    a handful of live tokens, so reading them all costs one small query.
    """

    def __init__(self, *, token_log: TokenLog, clock: Clock, logout_token: LogoutToken) -> None:
        self._token_log = token_log
        self._clock = clock
        self._logout_token = logout_token

    async def __call__(self, *, claims: Claims, session_id: str, peer: str | None) -> None:
        """`peer`: the caller's address, for the audit trail."""
        records = await self._token_log.active_sessions(claims.user_id, self._clock.now())
        record = next((r for r in records if r.key.session_id == session_id), None)
        if record is None:
            raise SessionNotFound("no such active session for this user")
        await self._logout_token(
            claims=Claims(
                key=record.key,
                user_id=record.user_id,
                issued_at=math.floor(record.issued_at),
                # Rounded up: the blacklist entry must not expire before the token does.
                expires_at=math.ceil(record.expires_at),
            ),
            revocation=Revocation.by_user(Reason.SESSION_REVOKED, claims.key, peer),
        )
