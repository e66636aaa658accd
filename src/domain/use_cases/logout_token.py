"""POST /api/v2/logout: block the caller's own token."""

from __future__ import annotations

from revocation.domain.model import BlacklistEntry, Claims, TokenRecord
from revocation.domain.policy import BlacklistPolicy, mirroring
from revocation.domain.ports import Blacklist, Clock, Telemetry, TokenLog


class LogoutToken:
    """Mark the token blocked in the log (the durable truth), then blacklist it for speed.

    The log's write happens inside the blacklist's `revoking`, which may mark the token pending
    in Redis first, so that the local cache's lease wait overlaps the commit.
    """

    def __init__(
        self,
        *,
        token_log: TokenLog,
        blacklist: Blacklist,
        clock: Clock,
        policy: BlacklistPolicy,
        telemetry: Telemetry,
    ) -> None:
        self._token_log = token_log
        self._telemetry = telemetry
        self._blacklist = blacklist
        self._clock = clock
        self._policy = policy

    async def __call__(self, *, claims: Claims) -> None:
        now = self._clock.now()
        record = TokenRecord(
            key=claims.key,
            user_id=claims.user_id,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
        )
        ttl = self._policy.ttl_for(claims.expires_at, now)
        if ttl == 0:  # expired past the leeway: the log keeps the block, Redis has no use for it
            await self._block(record, now)
            return
        async with (
            mirroring(self._policy, self._telemetry, "logout"),
            self._blacklist.revoking([BlacklistEntry(claims.key, ttl)]),
        ):
            await self._block(record, now)

    async def _block(self, record: TokenRecord, now: float) -> None:
        await self._token_log.block(record, blocked_at=now)
        self._telemetry.tokens_revoked(1, scope="token")
