"""GET /api/v2/sessions: where the caller's user is logged in."""

from __future__ import annotations

from revocation.domain.model import Claims, Session
from revocation.domain.ports import Clock, TokenLog


class ListSessions:
    """The user's active logged tokens, newest first, marking the one making the request."""

    def __init__(self, *, token_log: TokenLog, clock: Clock) -> None:
        self._token_log = token_log
        self._clock = clock

    async def __call__(self, *, claims: Claims) -> list[Session]:
        records = await self._token_log.active_sessions(claims.user_id, self._clock.now())
        return [
            Session(
                session_id=record.key.session_id,
                device=record.device,
                issued_at=record.issued_at,
                expires_at=record.expires_at,
                current=record.key == claims.key,
            )
            for record in records
        ]
