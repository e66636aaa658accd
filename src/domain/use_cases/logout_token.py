"""POST /api/v2/logout: block the caller's own token (and any one token, for whoever may)."""

from __future__ import annotations

from revocation.domain.audit import Revocation
from revocation.domain.model import BlacklistEntry, Claims, TokenRecord
from revocation.domain.policy import BlacklistPolicy, mirroring
from revocation.domain.ports import Blacklist, Clock, Telemetry, TokenLog


class LogoutToken:
    """Mark the token blocked in the log (the durable truth), then blacklist it for speed.

    The log's write happens inside the blacklist's `revoking`, which may mark the token pending
    in Redis first, so that the local cache's lease wait overlaps the commit. It records the
    `revocation` (who, why) in the audit trail in the same transaction.
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

    async def __call__(self, *, claims: Claims, revocation: Revocation) -> None:
        now = self._clock.now()
        record = TokenRecord(
            key=claims.key,
            user_id=claims.user_id,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
        )
        ttl = self._policy.ttl_for(claims.expires_at, now)
        if ttl == 0:  # expired past the leeway: the log keeps the block, Redis has no use for it
            await self._block(record, now, revocation)
            return
        async with (
            mirroring(self._policy, self._telemetry, "logout"),
            self._blacklist.revoking([BlacklistEntry(claims.key, ttl)]),
        ):
            await self._block(record, now, revocation)

    async def _block(self, record: TokenRecord, now: float, revocation: Revocation) -> None:
        if await self._token_log.block(record, blocked_at=now, revocation=revocation):
            self._telemetry.revocation_recorded(record.user_id, record.key.session_id, revocation)
        self._telemetry.tokens_revoked(1, scope="token")
