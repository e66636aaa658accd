"""GET /api/v2/sessions/history, and the trusted service's view of any user's."""

from __future__ import annotations

from revocation.domain.app_gate import AppGate, InternalCall
from revocation.domain.audit import HistoryPage, cursor_after, page_request
from revocation.domain.model import Claims
from revocation.domain.ports import AuditTrail


class SessionHistory:
    """The caller's user's ended sessions, newest first, a page at a time: when, which device,
    why and by whom. The user comes from the verified token alone: no one else's is reachable,
    and a cursor only ever pages through the caller's own records."""

    def __init__(self, *, audit_trail: AuditTrail) -> None:
        self._audit_trail = audit_trail

    async def __call__(self, *, claims: Claims, cursor: object, limit: object) -> HistoryPage:
        """Raises InvalidPage for a cursor no page gave or a size out of range."""
        return await self.of_user(claims.user_id, cursor, limit)

    async def of_user(self, user_id: int, cursor: object, limit: object) -> HistoryPage:
        before_id, size = page_request(cursor, limit)
        # One more than asked: whether a next page exists, without a second query.
        records = await self._audit_trail.history(user_id, before_id=before_id, limit=size + 1)
        if len(records) <= size:
            return HistoryPage(records, next_cursor=None)
        return HistoryPage(records[:size], next_cursor=cursor_after(records[size - 1]))


class InternalSessionHistory:
    """Admit the internal caller exactly as lgt-all does, then page through that user's history."""

    def __init__(self, *, gate: AppGate, session_history: SessionHistory) -> None:
        self._gate = gate
        self._session_history = session_history

    async def __call__(self, *, call: InternalCall, cursor: object, limit: object) -> HistoryPage:
        user_id = await self._gate.admit(call)
        return await self._session_history.of_user(user_id, cursor, limit)
