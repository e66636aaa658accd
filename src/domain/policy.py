"""How long fast-layer entries live, which tokens the fast layer may answer for alone, and what
a revocation the fast layer did not take means."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from revocation.domain.errors import BlacklistUnavailable, RevocationNotMirrored
from revocation.domain.model import Claims
from revocation.domain.ports import Telemetry


@dataclass(frozen=True, slots=True)
class BlacklistPolicy:
    """Blacklist entries never outlive their token (plus leeway), nor the configured expiry.

    With `redis_answers_alone` the fast layer is a complete mirror of the log, so an entry must
    live as long as its token can be presented (`exp` + leeway): the expiry setting can no
    longer shorten it (docs/decisions.md). Watermarks then live for the longest token
    lifetime the mirror covers; a longer-lived token is always checked against the log.
    """

    max_ttl_seconds: int  # REDIS_BLACKLIST_OBJECT_EXPIRY_IN_SEC
    leeway_seconds: int = 0
    redis_answers_alone: bool = False
    max_token_lifetime_seconds: int = 0  # the tokens a mirrored watermark must outlive
    # How long the fast layer must keep what it mirrors: fixed by the fields above, and read
    # by every check (`mirror_covers`), so worked out once.
    _mirrored_lifetime: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lifetime = self.max_ttl_seconds
        if self.redis_answers_alone:
            lifetime = max(self.max_ttl_seconds, self.max_token_lifetime_seconds)
        object.__setattr__(self, "_mirrored_lifetime", lifetime)

    def ttl_for(self, expires_at: float, now: float) -> int:
        """Seconds an entry for a token expiring at `expires_at` must live; 0: no entry needed."""
        remaining = math.ceil(expires_at - now) + self.leeway_seconds
        if self.redis_answers_alone:
            return max(0, remaining)
        return max(0, min(self.max_ttl_seconds, remaining))

    def logged_ttl_for(self, expires_at: float, now: float) -> int:
        """Seconds the fast layer may say a token expiring at `expires_at` is logged: until its
        row may be purged (expiry plus leeway), rounded down; 0: say nothing."""
        return max(0, math.floor(expires_at + self.leeway_seconds - now))

    @property
    def watermark_ttl_seconds(self) -> int:
        """A watermark outlives every token it kills that the fast layer answers for."""
        return self._mirrored_lifetime + self.leeway_seconds

    def mirror_covers(self, claims: Claims) -> bool:
        """Whether the fast layer alone may say this token is not revoked.

        A watermark that kills it was raised at or after its `iat` and lives the mirrored
        lifetime plus leeway, so it is still there whenever the token is still presentable.
        """
        lifetime = claims.expires_at - claims.issued_at
        return self.redis_answers_alone and lifetime <= self._mirrored_lifetime


@contextlib.asynccontextmanager
async def mirroring(
    policy: BlacklistPolicy, telemetry: Telemetry, operation: str
) -> AsyncIterator[None]:
    """Around the fast layer's write of a revocation that is durable already.

    If the fast layer fails, the failure is reported; where checks take the fast layer's word
    alone, the caller is told the revocation is not done (RevocationNotMirrored: a 503 to
    retry). Elsewhere every check reads the log, so the durable write is the revocation.
    """
    try:
        yield
    except BlacklistUnavailable as error:
        telemetry.blacklist_unavailable(operation)
        if policy.redis_answers_alone:
            raise RevocationNotMirrored(
                f"{operation}: durable, but not in the fast layer"
            ) from error
