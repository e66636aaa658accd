"""Re-push the revocations Redis must hold from the token log, after Redis lost writes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from revocation.domain.model import BlacklistEntry
from revocation.domain.policy import BlacklistPolicy
from revocation.domain.ports import Blacklist, Clock, MirrorMarker, TokenLog

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class RepairReport:
    """How many blacklist entries and watermarks a repair wrote."""

    tokens: int
    watermarks: int
    complete: bool  # False: Redis was reset meanwhile; the marker still asks for a repair


class RepairBlacklist:
    """Every blocked unexpired token and every still-live watermark, from the log to Redis.

    Idempotent: an entry is re-set with the TTL it would have now, and a watermark only rises.
    The marker says `done` only if Redis kept everything from the start of the walk to its end.
    Pages walk the log's keyset indexes, so a large table costs one query and one pipeline per
    `batch_size` tokens. Raises BlacklistUnavailable or TokenLogUnavailable; a retry resumes.
    """

    def __init__(
        self,
        *,
        token_log: TokenLog,
        blacklist: Blacklist,
        marker: MirrorMarker,
        clock: Clock,
        policy: BlacklistPolicy,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self._token_log = token_log
        self._blacklist = blacklist
        self._marker = marker
        self._clock = clock
        self._policy = policy
        self._batch_size = batch_size

    async def __call__(self) -> RepairReport:
        ticket = await self._marker.begin()  # before the walk: a reset during it drops the ticket
        now = self._clock.now()
        tokens, watermarks = await self._push_tokens(now), await self._push_watermarks(now)
        return RepairReport(tokens, watermarks, complete=await self._marker.complete(ticket))

    async def _push_tokens(self, now: float) -> int:
        pushed, cursor = 0, (now - self._policy.leeway_seconds, 0)
        while page := await self._token_log.blocked_after(*cursor, limit=self._batch_size):
            entries = [
                BlacklistEntry(record.key, ttl)
                for record in page
                if (ttl := self._policy.ttl_for(record.expires_at, now)) > 0
            ]
            await self._blacklist.add(entries)
            pushed += len(entries)
            cursor = (page[-1].expires_at, page[-1].row_id or 0)
        return pushed

    async def _push_watermarks(self, now: float) -> int:
        # A watermark's key lives watermark_ttl_seconds from its logout-all: only younger ones
        # still matter, and each gets the rest of that life, as if written back then.
        life = self._policy.watermark_ttl_seconds
        pushed, cursor = 0, (now - life, 0)
        while page := await self._token_log.watermarks_after(*cursor, limit=self._batch_size):
            for watermark in page:
                ttl = math.ceil(watermark.revoked_before + life - now)
                if ttl > 0:
                    await self._blacklist.raise_watermark(watermark, ttl)
                    pushed += 1
            cursor = (page[-1].revoked_before, page[-1].user_id)
        return pushed
