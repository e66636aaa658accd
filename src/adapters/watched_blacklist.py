"""A Blacklist that counts its failures, so the repair task knows Redis may have missed writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry, BlacklistState, TokenKey, Watermark
from revocation.domain.ports import Blacklist


class WatchedBlacklist:
    """Passes every call to `inner`; `failures` counts the BlacklistUnavailable it saw.

    A failed lookup counts too: Redis was unreachable then, so it may have restarted empty.
    """

    def __init__(self, inner: Blacklist) -> None:
        self._inner = inner
        self.failures = 0

    def connection_lost(self, invalidated: object) -> None:
        """A tracking subscriber: a lost connection (None) counts as a failure, since Redis may
        have restarted from an older snapshot or failed over, keeping its marker but not every
        write; the repair then runs at its next tick."""
        if invalidated is None:
            self.failures += 1

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        try:
            return await self._inner.lookup(key, user_id)
        except BlacklistUnavailable:
            self.failures += 1
            raise

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        try:
            await self._inner.add(entries)
        except BlacklistUnavailable:
            self.failures += 1
            raise

    @asynccontextmanager
    async def revoking(self, entries: Sequence[BlacklistEntry]) -> AsyncIterator[None]:
        try:
            async with self._inner.revoking(entries):
                yield
        except BlacklistUnavailable:
            self.failures += 1
            raise

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        try:
            await self._inner.raise_watermark(watermark, ttl_seconds)
        except BlacklistUnavailable:
            self.failures += 1
            raise


def _conforms(inner: Blacklist) -> Blacklist:
    """Never called: lets mypy prove that WatchedBlacklist matches its port."""
    return WatchedBlacklist(inner)
