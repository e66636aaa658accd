"""What this process has already learnt from the log about tokens: that they were logged, when.

A logged row's issue time never changes and the row stays until its token has expired (plus
leeway), so remembering it is safe; its blocked state and its user's watermark do change, and
are never remembered here (the fast layer's complete mirror answers for them).
"""

from __future__ import annotations

from revocation.domain.bounded import remember_bounded
from revocation.domain.model import TokenKey, TokenRecord


class LoggedTokens:
    """A bounded memo of logged tokens' precise issue times, forgotten when they expire."""

    def __init__(self, *, max_entries: int = 100_000, leeway_seconds: int = 0) -> None:
        self._max_entries = max_entries
        self._leeway = leeway_seconds
        # (key, user id) -> (issued_at, expires_at); insertion order is the eviction order.
        self._known: dict[tuple[TokenKey, int], tuple[float, float]] = {}

    def remember(self, record: TokenRecord) -> None:
        # A forgotten token only costs one more database read.
        known = (record.issued_at, record.expires_at)
        remember_bounded(self._known, (record.key, record.user_id), known, self._max_entries)

    def issued_at(self, key: TokenKey, user_id: int, now: float) -> float | None:
        """The logged token's precise issue time, or None when this process doesn't know it."""
        known = self._known.get((key, user_id))
        if known is None:
            return None
        issued_at, expires_at = known
        if now >= expires_at + self._leeway:  # the purge may delete the row from here on
            del self._known[(key, user_id)]
            return None
        return issued_at

    def __len__(self) -> int:
        return len(self._known)
