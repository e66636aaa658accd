"""The durable token log (`user_token_logs` and the watermarks) in PostgreSQL or SQLite.

Why raw statements through the engine this instance is given, not `UserTokenLog.select()`:
Piccolo binds ONE engine per Table class (`_meta.db`, found through piccolo_conf by default), so
two token logs on two databases in one process would share it. Passing the engine explicitly
keeps the container in charge, and none of these statements (upserts with a WHERE,
GREATEST/MAX, a one-row LEFT JOIN, RETURNING) fits Piccolo's query builder anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

from revocation.adapters.piccolo import audit_queries, queries
from revocation.adapters.piccolo.engines import DatabaseEngine, database_errors
from revocation.domain.audit import Revocation
from revocation.domain.model import LogState, TokenKey, TokenRecord, Watermark
from revocation.domain.ports import TokenLog

Row = Mapping[str, Any]


class PiccoloTokenLog:
    """The TokenLog port on PostgreSQL or SQLite, through the Piccolo engine it is given."""

    def __init__(self, engine: DatabaseEngine, *, timeout: float = 10.0) -> None:
        self._engine = engine
        # A ceiling over each whole operation, pool wait included (Piccolo acquires without one).
        self._timeout = timeout

    async def record(self, record: TokenRecord) -> None:
        async with self._guard("record a token"):
            inserted = await self._fetch(queries.RECORD, *_values(record, record.blocked_at))
        if not inserted:
            raise ValueError(f"token {record.key} is logged already")

    async def lookup(self, key: TokenKey, user_id: int) -> LogState:
        async with self._guard("look up a token"):
            rows = await self._fetch(queries.LOOKUP, key.issuer, key.jti, user_id)
        row = rows[0]
        revoked_before = row["revoked_before"]
        return LogState(
            record=None if row["id"] is None else _record(row),
            watermark=None
            if revoked_before is None
            else Watermark(user_id=user_id, revoked_before=_seconds(revoked_before)),
        )

    async def block(self, record: TokenRecord, blocked_at: float, revocation: Revocation) -> bool:
        block = _values(record, blocked_at)
        audit = (record.user_id, _datetime(blocked_at), record.key.session_id)
        async with self._guard("block a token"):
            if not isinstance(self._engine, SQLiteEngine):
                sql = audit_queries.BLOCK_AND_RECORD_POSTGRES
                return bool(await self._fetch(sql, *block, *audit, *_revocation(revocation)))
            async with self._engine.transaction(transaction_type=TransactionType.immediate):
                blocked = await self._fetch(audit_queries.BLOCK_RETURNING_SQLITE, *block)
                if blocked:
                    device = blocked[0]["device"]
                    sql = audit_queries.RECORD_SQLITE
                    await self._fetch(sql, *audit, device, *_revocation(revocation))
        return bool(blocked)

    async def revoke_all(self, watermark: Watermark) -> int:
        at = _datetime(watermark.revoked_before)
        raise_args = (watermark.user_id, at)
        block_args = (at, watermark.user_id, at)
        async with self._guard("revoke a user's tokens"):
            if isinstance(self._engine, SQLiteEngine):
                async with self._engine.transaction(transaction_type=TransactionType.immediate):
                    await self._fetch(queries.RAISE_WATERMARK_SQLITE, *raise_args)
                    rows = await self._fetch(queries.BLOCK_ISSUED_BEFORE_SQLITE, *block_args)
                return len(rows)
            counted = await self._fetch(queries.REVOKE_ALL_POSTGRES, *raise_args, *block_args)
        return int(counted[0]["blocked"])

    async def raise_watermark(self, watermark: Watermark, revocation: Revocation) -> None:
        at = _datetime(watermark.revoked_before)
        audit = (watermark.user_id, at, None, None, *_revocation(revocation))
        async with self._guard("raise a user's watermark"):
            if not isinstance(self._engine, SQLiteEngine):
                sql = audit_queries.RAISE_WATERMARK_AND_RECORD_POSTGRES
                await self._fetch(sql, watermark.user_id, at, *audit)
                return
            async with self._engine.transaction(transaction_type=TransactionType.immediate):
                await self._fetch(queries.RAISE_WATERMARK_SQLITE, watermark.user_id, at)
                await self._fetch(audit_queries.RECORD_SQLITE, *audit)

    async def active_sessions(self, user_id: int, now: float) -> list[TokenRecord]:
        async with self._guard("list active sessions"):
            rows = await self._fetch(queries.ACTIVE_SESSIONS, user_id, _datetime(now))
        return [_record(row) for row in rows]

    async def purge_expired(self, before: float, batch_size: int) -> int:
        if batch_size < 1:
            return 0
        async with self._guard("purge expired tokens"):
            deleted = await self._fetch(queries.PURGE_EXPIRED, _datetime(before), batch_size)
        return len(deleted)

    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        async with self._guard("page through blocked tokens"):
            rows = await self._fetch(queries.BLOCKED_AFTER, _datetime(expires_at), row_id, limit)
        return [_record(row) for row in rows]

    async def watermarks_after(
        self, revoked_before: float, user_id: int, limit: int
    ) -> list[Watermark]:
        async with self._guard("page through watermarks"):
            rows = await self._fetch(
                queries.WATERMARKS_AFTER, _datetime(revoked_before), user_id, limit
            )
        return [
            Watermark(user_id=int(row["user_id"]), revoked_before=_seconds(row["revoked_before"]))
            for row in rows
        ]

    @contextlib.asynccontextmanager
    async def _guard(self, action: str) -> AsyncIterator[None]:
        with database_errors(action):
            async with asyncio.timeout(self._timeout):
                yield

    async def _fetch(self, sql: str, *args: Any) -> Sequence[Row]:
        pool = getattr(self._engine, "pool", None)
        if pool is not None and not self._engine.current_transaction.get():
            # Straight to asyncpg with the SQL compiled once per statement (the hot path's
            # lookup: Piccolo's run_querystring re-compiles the QueryString on every call).
            async with pool.acquire() as connection:
                found: Sequence[Row] = await connection.fetch(_postgres_sql(sql, len(args)), *args)
            return found
        rows: Sequence[Row] = await self._engine.run_querystring(QueryString(sql, *args))
        return rows


@functools.cache
def _postgres_sql(template: str, arity: int) -> str:
    """A queries.* template with Postgres' $1..$n placeholders, as Piccolo would compile it."""
    sql: str = QueryString(template, *[None] * arity).compile_string(engine_type="postgres")[0]
    return sql


def _values(record: TokenRecord, blocked_at: float | None) -> tuple[Any, ...]:
    """The insert's arguments, in the column order of queries.RECORD and the blocks'."""
    return (
        record.key.issuer,
        record.key.jti,
        record.user_id,
        _datetime(record.issued_at),
        _datetime(record.expires_at),
        None if blocked_at is None else _datetime(blocked_at),
        record.device,
    )


def _revocation(revocation: Revocation) -> tuple[Any, ...]:
    """The record's arguments after its session, in the order of audit_queries' columns (the
    actor's iss and jti only find its device label; they are not stored)."""
    actor = revocation.actor
    session = actor.session
    return (
        revocation.reason.value,
        actor.kind,
        actor.name,
        session.session_id if session else None,
        session.issuer if session else None,
        session.jti if session else None,
        revocation.peer,
        revocation.note,
        revocation.note_dropped,
    )


def _record(row: Row) -> TokenRecord:
    blocked_at = row["blocked_at"]
    return TokenRecord(
        key=TokenKey(issuer=row["iss"], jti=row["jti"]),
        user_id=int(row["user_id"]),
        issued_at=_seconds(row["issued_at"]),
        expires_at=_seconds(row["expires_at"]),
        blocked_at=None if blocked_at is None else _seconds(blocked_at),
        device=row["device"],
        row_id=int(row["id"]),
    )


def _datetime(seconds: float) -> datetime:
    """Unix seconds as an aware UTC datetime, rounded to the microsecond the columns keep."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def _seconds(value: datetime | str) -> float:
    # SQLite hands back text where it cannot see the column's declared type (RETURNING).
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _conforms(engine: DatabaseEngine) -> TokenLog:
    """Never called: lets mypy prove that PiccoloTokenLog matches its port."""
    return PiccoloTokenLog(engine)
