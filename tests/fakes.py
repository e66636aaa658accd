"""Test doubles beyond the product's in-memory adapters: storage that is down, deferred work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from revocation.domain.audit import Revocation
from revocation.domain.errors import BlacklistUnavailable, TokenLogUnavailable
from revocation.domain.model import (
    BlacklistEntry,
    BlacklistState,
    LoggedEntry,
    LogState,
    TokenKey,
    TokenRecord,
    Watermark,
)
from revocation.domain.ports import Background, Blacklist, TokenLog


class DownTokenLog:
    """A database that is down: every call fails the way the real adapter reports it."""

    async def record(self, record: TokenRecord) -> None:
        raise TokenLogUnavailable("down")

    async def lookup(self, key: TokenKey, user_id: int) -> LogState:
        raise TokenLogUnavailable("down")

    async def block(self, record: TokenRecord, blocked_at: float, revocation: Revocation) -> bool:
        raise TokenLogUnavailable("down")

    async def revoke_all(self, watermark: Watermark) -> int:
        raise TokenLogUnavailable("down")

    async def raise_watermark(self, watermark: Watermark, revocation: Revocation) -> None:
        raise TokenLogUnavailable("down")

    async def active_sessions(self, user_id: int, now: float) -> list[TokenRecord]:
        raise TokenLogUnavailable("down")

    async def purge_expired(self, before: float, batch_size: int) -> int:
        raise TokenLogUnavailable("down")

    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        raise TokenLogUnavailable("down")

    async def watermarks_after(
        self, revoked_before: float, user_id: int, limit: int
    ) -> list[Watermark]:
        raise TokenLogUnavailable("down")


class DownBlacklist:
    """A Redis that is down."""

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        raise BlacklistUnavailable("down")

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        raise BlacklistUnavailable("down")

    @asynccontextmanager
    async def revoking(self, entries: Sequence[BlacklistEntry]) -> AsyncIterator[None]:
        yield  # the block inside goes to the log; then the Redis write fails
        raise BlacklistUnavailable("down")

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        raise BlacklistUnavailable("down")

    async def note_logged(self, entries: Sequence[LoggedEntry]) -> None:
        raise BlacklistUnavailable("down")


_: TokenLog = DownTokenLog()
__: Blacklist = DownBlacklist()


class ManualBackground:
    """Keeps the work until the test runs it: the moment between response and blocking."""

    def __init__(self) -> None:
        self.queued: list[Callable[[], Awaitable[object]]] = []

    def run(self, name: str, work: Callable[[], Awaitable[object]]) -> None:
        self.queued.append(work)

    async def finish(self) -> None:
        while self.queued:
            await self.queued.pop(0)()


___: type[Background] = ManualBackground
