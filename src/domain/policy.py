"""How long fast-layer entries live, and which tokens the durable check admits."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlacklistPolicy:
    """Blacklist entries never outlive their token (plus leeway), nor the configured expiry."""

    max_ttl_seconds: int  # REDIS_BLACKLIST_OBJECT_EXPIRY_IN_SEC
    leeway_seconds: int = 0

    def ttl_for(self, expires_at: float, now: float) -> int:
        """Seconds an entry for a token expiring at `expires_at` must live; 0: no entry needed."""
        remaining = math.ceil(expires_at - now) + self.leeway_seconds
        return max(0, min(self.max_ttl_seconds, remaining))

    @property
    def watermark_ttl_seconds(self) -> int:
        """A watermark outlives any token it kills that the expiry setting covers."""
        return self.max_ttl_seconds + self.leeway_seconds
