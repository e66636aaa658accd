"""A team's own Blacklist adapter (here: plain dictionaries), checked by the service's contract
suite in test_dict_blacklist.py. Swap in your cache's client; keep the semantics."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence

from revocation.domain.model import (
    BlacklistEntry,
    BlacklistState,
    LoggedEntry,
    TokenKey,
    Watermark,
)


class DictBlacklist:
    """Blocked (iss, jti) pairs and per-user watermarks, each with its expiry instant."""

    def __init__(self) -> None:
        self._blocked: dict[TokenKey, float] = {}
        self._watermarks: dict[int, tuple[Watermark, float]] = {}

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        now = time.monotonic()
        blocked = self._blocked.get(key, 0.0) > now
        watermark, until = self._watermarks.get(user_id, (None, 0.0))
        return BlacklistState(token_blocked=blocked, watermark=watermark if until > now else None)

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        now = time.monotonic()
        for entry in entries:
            self._blocked[entry.key] = now + entry.ttl_seconds

    async def note_logged(self, entries: Sequence[LoggedEntry]) -> None:
        """Marks of logged tokens are a shortcut, not a duty: an adapter that keeps none answers
        `logged=None` and the service asks the database. It must never invent one."""

    @contextlib.asynccontextmanager
    async def revoking(self, entries: Sequence[BlacklistEntry]) -> AsyncIterator[None]:
        yield  # the durable write happens inside; only once it succeeded:
        await self.add(entries)

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        current = (await self.lookup(TokenKey("", ""), watermark.user_id)).watermark
        if ttl_seconds > 0 and (
            current is None or watermark.revoked_before > current.revoked_before
        ):
            self._watermarks[watermark.user_id] = (watermark, time.monotonic() + ttl_seconds)
