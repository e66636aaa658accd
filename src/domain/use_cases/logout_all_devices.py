"""POST /api/v2/logout-all-device: every token of the caller's user dies, listed or not."""

from __future__ import annotations

from revocation.domain.audit import Revocation
from revocation.domain.model import Watermark
from revocation.domain.policy import BlacklistPolicy, mirroring
from revocation.domain.ports import Background, Blacklist, Clock, Telemetry, TokenLog


class LogoutAllDevices:
    """Raise the user's watermark durably and in Redis; block their logged rows afterwards.

    The watermark is the revocation, in both layers: every check reads the token's entry and
    its user's watermark together, and where Redis answers alone, its watermark outlives every
    token it covers (BlacklistPolicy). So the blocked tokens get no entries of their own: N of
    them would cost N Redis writes and, for a user with thousands of tokens, hundreds of
    milliseconds of this process's event loop (building and parsing the pipeline), during which
    every other request waits. It answers once the watermark is committed and in Redis, and
    blocks the rows after the response: O(1) round trips and time, whatever the N.
    """

    def __init__(
        self,
        *,
        token_log: TokenLog,
        blacklist: Blacklist,
        clock: Clock,
        policy: BlacklistPolicy,
        telemetry: Telemetry,
        background: Background,
    ) -> None:
        self._token_log = token_log
        self._telemetry = telemetry
        self._blacklist = blacklist
        self._clock = clock
        self._policy = policy
        self._background = background

    async def __call__(self, *, user_id: int, revocation: Revocation) -> None:
        """`revocation` (who, why) is recorded in the audit trail with the watermark."""
        watermark = Watermark(user_id=user_id, revoked_before=self._clock.now())
        await self._token_log.raise_watermark(watermark, revocation)
        self._telemetry.revocation_recorded(user_id, None, revocation)
        try:
            async with mirroring(self._policy, self._telemetry, "logout_all"):
                await self._blacklist.raise_watermark(watermark, self._policy.watermark_ttl_seconds)
        finally:  # after the answer's work, not competing with it; even when it is a 503
            self._background.run("block revoked tokens", lambda: self._block_rows(watermark))

    async def _block_rows(self, watermark: Watermark) -> None:
        blocked = await self._token_log.revoke_all(watermark)
        self._telemetry.tokens_revoked(blocked, scope="user")
