"""The audit trail (`revocation_audit`) in PostgreSQL or SQLite: read and purged here, written by
PiccoloTokenLog in the same statement or transaction as each revocation."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from piccolo.querystring import QueryString

from revocation.adapters.piccolo import audit_queries
from revocation.adapters.piccolo.engines import DatabaseEngine, database_errors
from revocation.domain.audit import AuditRecord
from revocation.domain.model import MAX_USER_ID
from revocation.domain.ports import AuditTrail


class PiccoloAuditTrail:
    """The AuditTrail port on the engine it is given (the token log's)."""

    def __init__(self, engine: DatabaseEngine, *, timeout: float = 10.0) -> None:
        self._engine = engine
        self._timeout = timeout  # a ceiling over each whole operation, pool wait included

    async def history(
        self, user_id: int, *, before_id: int | None, limit: int
    ) -> list[AuditRecord]:
        before = MAX_USER_ID if before_id is None else before_id
        sql = audit_queries.HISTORY
        rows = await self._fetch("read a user's history", sql, user_id, before, limit)
        return [_audit_record(row) for row in rows]

    async def purge_before(self, before: float, batch_size: int) -> int:
        if batch_size < 1:
            return 0
        at = datetime.fromtimestamp(before, tz=UTC)
        sql = audit_queries.PURGE_BEFORE
        deleted = await self._fetch("purge the audit trail", sql, at, batch_size)
        return len(deleted)

    async def _fetch(self, action: str, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        with database_errors(action):
            async with asyncio.timeout(self._timeout):
                rows: list[Mapping[str, Any]] = await self._engine.run_querystring(
                    QueryString(sql, *args)
                )
        return rows


def _audit_record(row: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord(
        record_id=int(row["id"]),
        user_id=int(row["user_id"]),
        revoked_at=_seconds(row["revoked_at"]),
        session_id=row["session_id"],
        device=row["device"],
        reason=row["reason"],
        actor_kind=row["actor_kind"],
        actor_name=row["actor_name"],
        actor_session_id=row["actor_session_id"],
        actor_device=row["actor_device"],
        peer=row["peer"],
        note=row["note"],
        note_dropped=bool(row["note_dropped"]),  # SQLite answers 0 or 1
    )


def _seconds(value: datetime | str) -> float:
    # SQLite may hand back text where it cannot see the column's declared type.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _conforms(engine: DatabaseEngine) -> AuditTrail:
    """Never called: lets mypy prove that PiccoloAuditTrail matches its port."""
    return PiccoloAuditTrail(engine)
