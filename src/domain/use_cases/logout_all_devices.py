"""POST /api/v2/logout-all-device: every token of the caller's user dies, listed or not."""

from __future__ import annotations

from domain.errors import BlacklistUnavailable, RevocationNotMirrored
from domain.model import BlacklistEntry, Watermark
from domain.policy import BlacklistPolicy
from domain.ports import Background, Blacklist, Clock, Telemetry, TokenLog


class LogoutAllDevices:
    """Raise the user's watermark durably, block their logged tokens, then mirror it all.

    With a `background`, it answers once the watermark is committed and in Redis (that is the
    revocation: both steps of every check honour it) and blocks the rows and mirrors them after
    the response: O(1) round trips and time on the response path, whatever the user's N.
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
        now = self._clock.now()
        watermark = Watermark(user_id=user_id, revoked_before=now)
        if self._background is None:
            return await self._block_and_mirror(watermark, now)
        await self._token_log.raise_watermark(watermark)
        try:
            await self._mirror(watermark, [], answering=True)
        finally:  # after the answer's work, not competing with it; even when it is a 503
            self._background.run(
                "block revoked tokens", lambda: self._block_and_mirror(watermark, now)
            )
        return 0

    async def _block_and_mirror(self, watermark: Watermark, now: float) -> int:
        user_id = watermark.user_id
        blocked = await self._token_log.revoke_all(watermark)
        self._telemetry.tokens_revoked(len(blocked), scope="user")
        entries = [
            BlacklistEntry(record.key, user_id, ttl)
            for record in blocked
            if (ttl := self._policy.ttl_for(record.expires_at, now)) > 0
        ]
        await self._mirror(watermark, entries, answering=self._background is None)
        return len(blocked)

    async def _mirror(
        self, watermark: Watermark, entries: list[BlacklistEntry], *, answering: bool
    ) -> None:
        try:
            await self._blacklist.raise_watermark(
                watermark, self._policy.watermark_ttl_seconds, entries
            )
        except BlacklistUnavailable as error:
            self._telemetry.blacklist_unavailable("logout_all")
            if answering and self._policy.redis_answers_alone:
                # Checks may take the fast layer's word without the log: the caller must retry.
                raise RevocationNotMirrored("the watermark is durable but not in Redis") from error
            # The watermark is committed and every check reads the log: the tokens are dead.
            # (After the response, the watermark already in Redis covers the rows' entries.)
