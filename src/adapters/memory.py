"""In-memory token log, blacklist and mirror marker: real fakes with the same semantics as
Postgres and Redis.

A product feature, not a test hack: swap them into the container to test an app that mounts
our middleware without any server. They pass the same contract suites as the real adapters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from revocation.adapters.memory_audit import InMemoryAuditTrail
from revocation.domain.audit import Revocation
from revocation.domain.model import (
    BlacklistEntry,
    BlacklistState,
    LoggedEntry,
    LoggedMark,
    LogState,
    TokenKey,
    TokenRecord,
    Watermark,
)
from revocation.domain.ports import Blacklist, Clock, MirrorMarker, TokenLog


class InMemoryTokenLog:
    """`user_token_logs` and the watermarks, in dictionaries, and the audit trail its
    revocations write (`audit_trail`). Not shared between processes."""

    def __init__(self) -> None:
        self._records: dict[TokenKey, TokenRecord] = {}
        self._watermarks: dict[int, Watermark] = {}
        self._row_ids = itertools.count(1)
        self.audit_trail = InMemoryAuditTrail()

    async def record(self, record: TokenRecord) -> None:
        if record.key in self._records:
            raise ValueError(f"token {record.key} is logged already")
        self._records[record.key] = dataclasses.replace(record, row_id=next(self._row_ids))

    async def lookup(self, key: TokenKey, user_id: int) -> LogState:
        return LogState(record=self._records.get(key), watermark=self._watermarks.get(user_id))

    async def block(self, record: TokenRecord, blocked_at: float, revocation: Revocation) -> bool:
        existing = self._records.get(record.key)
        if existing is not None and existing.blocked_at is not None:
            return False
        actor_device = self._device_of(revocation)  # as it was before this block
        if existing is None:
            existing = dataclasses.replace(record, row_id=next(self._row_ids))
        # Another user's row too: the pair is what's blocked.
        self._records[record.key] = dataclasses.replace(existing, blocked_at=blocked_at)
        session = (record.key.session_id, existing.device)
        self.audit_trail.append(record.user_id, blocked_at, session, revocation, actor_device)
        return True

    async def raise_watermark(self, watermark: Watermark, revocation: Revocation) -> None:
        await self._raise(watermark)
        actor_device = self._device_of(revocation)
        self.audit_trail.append(
            watermark.user_id, watermark.revoked_before, None, revocation, actor_device
        )

    def _device_of(self, revocation: Revocation) -> str | None:
        session = revocation.actor.session
        record = self._records.get(session) if session is not None else None
        return record.device if record is not None else None

    async def _raise(self, watermark: Watermark) -> None:
        current = self._watermarks.get(watermark.user_id)
        if current is None or current.revoked_before < watermark.revoked_before:
            self._watermarks[watermark.user_id] = watermark

    async def revoke_all(self, watermark: Watermark) -> int:
        await self._raise(watermark)
        blocked = 0
        for key, record in self._records.items():
            if (
                record.user_id == watermark.user_id
                and record.blocked_at is None
                and watermark.kills_issued_at(record.issued_at)
            ):
                self._records[key] = dataclasses.replace(
                    record, blocked_at=watermark.revoked_before
                )
                blocked += 1
        return blocked

    async def active_sessions(self, user_id: int, now: float) -> list[TokenRecord]:
        watermark = self._watermarks.get(user_id)
        active = [
            record
            for record in self._records.values()
            if record.user_id == user_id
            and record.blocked_at is None
            and record.expires_at > now
            and not (watermark and watermark.kills_issued_at(record.issued_at))
        ]
        return sorted(active, key=lambda record: record.issued_at, reverse=True)

    async def purge_expired(self, before: float, batch_size: int) -> int:
        expired = [key for key, r in self._records.items() if r.expires_at < before][:batch_size]
        for key in expired:
            del self._records[key]
        return len(expired)

    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        page = sorted(
            (
                record
                for record in self._records.values()
                if record.blocked_at is not None
                and (record.expires_at, record.row_id or 0) > (expires_at, row_id)
            ),
            key=lambda record: (record.expires_at, record.row_id or 0),
        )
        return page[:limit]

    async def watermarks_after(
        self, revoked_before: float, user_id: int, limit: int
    ) -> list[Watermark]:
        page = sorted(
            (
                watermark
                for watermark in self._watermarks.values()
                if (watermark.revoked_before, watermark.user_id) > (revoked_before, user_id)
            ),
            key=lambda watermark: (watermark.revoked_before, watermark.user_id),
        )
        return page[:limit]


class InMemoryBlacklist:
    """The Redis blacklist's semantics (per-entry TTL, watermark only rises) in one process."""

    def __init__(self, clock: Clock, *, complete: bool = False) -> None:
        self._clock = clock
        # Plays the mirror marker: True, and checks may take this blacklist's "not revoked"
        # without the log (REVOCATION_CACHE=redis|local); False plays a restarted Redis.
        self.complete = complete
        # (iss, jti) -> expiry instant.
        self._blocked: dict[TokenKey, float] = {}
        self._watermarks: dict[int, tuple[Watermark, float]] = {}
        self._logged: dict[TokenKey, tuple[LoggedMark, float]] = {}
        self._lock = asyncio.Lock()

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        now = self._clock.now()
        expiry = self._blocked.get(key)
        watermark = self._watermarks.get(user_id)
        logged = self._logged.get(key)
        return BlacklistState(
            token_blocked=expiry is not None and expiry > now,
            watermark=watermark[0] if watermark and watermark[1] > now else None,
            complete=self.complete,
            logged=logged[0] if logged and logged[1] > now else None,
        )

    async def note_logged(self, entries: Sequence[LoggedEntry]) -> None:
        now = self._clock.now()
        for entry in entries:
            self._logged[entry.key] = (entry.mark, now + entry.ttl_seconds)
        if len(self._logged) > 1024 and len(self._logged) & 1023 == 0:
            self._logged = {k: v for k, v in self._logged.items() if v[1] > now}

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        now = self._clock.now()
        for entry in entries:
            self._blocked[entry.key] = now + entry.ttl_seconds
        self._forget_expired(now)

    @asynccontextmanager
    async def revoking(self, entries: Sequence[BlacklistEntry]) -> AsyncIterator[None]:
        yield
        await self.add(entries)

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        async with self._lock:
            now = self._clock.now()
            current = self._watermarks.get(watermark.user_id)
            if (
                current is None
                or current[1] <= now
                or current[0].revoked_before < (watermark.revoked_before)
            ):
                self._watermarks[watermark.user_id] = (watermark, now + ttl_seconds)

    def _forget_expired(self, now: float) -> None:
        # Amortised cleanup keeps a long-lived fake from growing without bound.
        if len(self._blocked) > 1024 and len(self._blocked) & 1023 == 0:
            self._blocked = {k: t for k, t in self._blocked.items() if t > now}


class InMemoryMirrorMarker:
    """The mirror marker's semantics in one process; `reset()` plays a Redis restart."""

    def __init__(self) -> None:
        self.state: str | None = None

    async def is_complete(self) -> bool:
        return self.state == "done"

    async def begin(self) -> str:
        self.state = f"pending:{secrets.token_hex(8)}"
        return self.state

    async def complete(self, ticket: str) -> bool:
        if self.state != ticket:
            return False
        self.state = "done"
        return True

    def reset(self) -> None:
        self.state = None


_: TokenLog = InMemoryTokenLog()
__: Blacklist = InMemoryBlacklist(clock=None)  # type: ignore[arg-type]
___: MirrorMarker = InMemoryMirrorMarker()
