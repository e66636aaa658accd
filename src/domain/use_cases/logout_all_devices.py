"""POST /api/v2/logout-all-device: every token of the caller's user dies, listed or not."""

from __future__ import annotations

from domain.errors import BlacklistUnavailable
from domain.model import BlacklistEntry, Watermark
from domain.policy import BlacklistPolicy
from domain.ports import Blacklist, Clock, Telemetry, TokenLog


class LogoutAllDevices:
    """Raise the user's watermark durably, block their logged tokens, then mirror it all."""

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

    async def __call__(self, *, user_id: int) -> int:
        """Returns how many logged tokens it blocked."""
        now = self._clock.now()
        watermark = Watermark(user_id=user_id, revoked_before=now)
        blocked = await self._token_log.revoke_all(watermark)
        self._telemetry.tokens_revoked(len(blocked), scope="user")
        entries = [
            BlacklistEntry(record.key, user_id, ttl)
            for record in blocked
            if (ttl := self._policy.ttl_for(record.expires_at, now)) > 0
        ]
        try:
            await self._blacklist.raise_watermark(
                watermark, self._policy.watermark_ttl_seconds, entries
            )
        except BlacklistUnavailable:
            # The watermark is committed and every check reads the log: the tokens are dead.
            self._telemetry.blacklist_unavailable("logout_all")
        return len(blocked)
