"""POST /api/v2/logout-all-device: every token of the caller's user dies, listed or not."""

from __future__ import annotations

from revocation.domain.errors import BlacklistUnavailable, RevocationNotMirrored
from revocation.domain.model import Watermark
from revocation.domain.policy import BlacklistPolicy
from revocation.domain.ports import Background, Blacklist, Clock, Telemetry, TokenLog


class LogoutAllDevices:
    """Raise the user's watermark durably and in Redis, and block their logged rows.

    The watermark is the revocation, in both layers: every check reads the token's entry and
    its user's watermark together, and where Redis answers alone, its watermark outlives every
    token it covers (BlacklistPolicy). So the blocked tokens get no entries of their own: N of
    them would cost N Redis writes and, for a user with thousands of tokens, hundreds of
    milliseconds of this process's event loop (building and parsing the pipeline), during which
    every other request waits.

    With a `background`, it answers once the watermark is committed and in Redis and blocks the
    rows after the response: O(1) round trips and time on the response path, whatever the N.
    """

    def __init__(
        self,
        *,
        token_log: TokenLog,
        blacklist: Blacklist,
        clock: Clock,
        policy: BlacklistPolicy,
        telemetry: Telemetry,
        background: Background | None = None,
    ) -> None:
        self._token_log = token_log
        self._telemetry = telemetry
        self._blacklist = blacklist
        self._clock = clock
        self._policy = policy
        self._background = background

    async def __call__(self, *, user_id: int) -> int:
        """Returns how many logged tokens it blocked (0 when a background blocks them later)."""
        watermark = Watermark(user_id=user_id, revoked_before=self._clock.now())
        if self._background is None:
            blocked = await self._block_rows(watermark)
            await self._mirror(watermark)
            return blocked
        await self._token_log.raise_watermark(watermark)
        try:
            await self._mirror(watermark)
        finally:  # after the answer's work, not competing with it; even when it is a 503
            self._background.run("block revoked tokens", lambda: self._block_rows(watermark))
        return 0

    async def _block_rows(self, watermark: Watermark) -> int:
        blocked = await self._token_log.revoke_all(watermark)
        self._telemetry.tokens_revoked(blocked, scope="user")
        return blocked

    async def _mirror(self, watermark: Watermark) -> None:
        try:
            await self._blacklist.raise_watermark(watermark, self._policy.watermark_ttl_seconds)
        except BlacklistUnavailable as error:
            self._telemetry.blacklist_unavailable("logout_all")
            if self._policy.redis_answers_alone:
                # Checks may take the fast layer's word without the log: the caller must retry.
                raise RevocationNotMirrored("the watermark is durable but not in Redis") from error
            # The watermark is committed and every check reads the log: the tokens are dead.
