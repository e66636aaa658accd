"""What this process has already refused as revoked, so a token replayed again and again costs
one lookup instead of the fast layer's (or the log's), and no signature check.

A revocation is never undone: a blocked pair stays blocked and a watermark only rises, and
either is in the log before the fast layer shows it. Remembering a refusal is therefore safe for
as long as the token would verify.

Remembered by the identity of the claims the check verified, never by the token's pair: the
codec's `peek` hands back a claims object that a `verify` returned only for that very token, and
only while it would verify now (the TokenCodec port's promise, which the verified-token cache
keeps). So a hit is a token whose signature and time claims pass at this instant, refused
before; an expired one gets new claims from the peek, misses, and gets the answer any expired
token gets. A forged token naming a revoked pair has claims of its own and never hits, so its
refusal (invalid) costs what any forgery's does: neither the answer nor its time tells anyone
that the pair was revoked. With a codec that makes new claims per call (no verified-token
cache), nothing ever hits and the check runs in full, as before.
"""

from __future__ import annotations

from revocation.domain.bounded import remember_bounded
from revocation.domain.model import Claims


class RevokedTokens:
    """A bounded memo: verified claims (by identity) -> why the check refused them as revoked."""

    def __init__(self, *, max_entries: int) -> None:
        self._max_entries = max_entries
        # id -> (the claims, held so that no other object gets their id while here; the reason
        # they were refused). Insertion order is the eviction order.
        self._refused: dict[int, tuple[Claims, str]] = {}
        # `refused_by_id(id(claims))`: (claims, reason) or None. The dict's own `get`: every
        # check asks, accepted tokens too, and a method of ours would be a Python frame more.
        self.refused_by_id = self._refused.get

    def reason(self, claims: Claims) -> str | None:
        """Why these very claims were refused as revoked; None if they never were (here)."""
        known = self.refused_by_id(id(claims))
        return None if known is None else known[1]

    def remember(self, claims: Claims, reason: str) -> None:
        # A forgotten refusal only costs one full check.
        remember_bounded(self._refused, id(claims), (claims, reason), self._max_entries)

    def __len__(self) -> int:
        return len(self._refused)
