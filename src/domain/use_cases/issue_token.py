"""Issue a token and log it, so the logout endpoints and the database check know it."""

from __future__ import annotations

import math
import secrets

from revocation.domain.logged_mirror import LoggedMirror
from revocation.domain.model import Claims, IssuedToken, TokenKey, TokenRecord, device_label
from revocation.domain.ports import Clock, TokenCodec, TokenLog


class IssueToken:
    """Log the new token (committed) before handing it out, so it is never unknown; the fast
    layer learns it is logged too, so no check of it need ask the log."""

    def __init__(
        self,
        *,
        codec: TokenCodec,
        token_log: TokenLog,
        clock: Clock,
        logged_mirror: LoggedMirror,
        issuer: str,
        ttl_seconds: int,
    ) -> None:
        self._logged_mirror = logged_mirror
        self._codec = codec
        self._token_log = token_log
        self._clock = clock
        self._issuer = issuer
        self._ttl_seconds = ttl_seconds

    async def __call__(self, *, user_id: int, device: object = None) -> IssuedToken:
        """Raises InvalidDevice for a label the sessions list could not show."""
        label = device_label(device)
        now = self._clock.now()
        issued_at = math.floor(now)
        claims = Claims(
            key=TokenKey(issuer=self._issuer, jti=secrets.token_urlsafe(16)),
            user_id=user_id,
            issued_at=issued_at,
            expires_at=issued_at + self._ttl_seconds,
        )
        record = TokenRecord(
            key=claims.key,
            user_id=user_id,
            issued_at=now,  # precise: a login right after a logout-all must survive it
            expires_at=claims.expires_at,
            device=label,
        )
        await self._token_log.record(record)
        await self._logged_mirror.note(record)
        return IssuedToken(token=self._codec.encode(claims), record=record)
