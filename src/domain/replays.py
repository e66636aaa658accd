"""Replays: a revoked token presented again with a valid signature, the clearest sign of theft.

The check only notes one (ReplayWatch); what follows happens off the request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from revocation.domain.model import Claims, LogState, TokenKey

ReplayPolicy = Literal["off", "alert", "revoke-user"]


@dataclass(frozen=True, slots=True)
class ReplayRules:
    """What replays cause (REPLAY_POLICY), and when."""

    policy: ReplayPolicy
    grace_seconds: int  # replays this soon after the revocation are counted, not alerted
    window_seconds: int  # at most one alert per token per window, across the fleet


@dataclass(frozen=True, slots=True)
class Replay:
    """One revoked token's replays, as one process noted them over a short while."""

    claims: Claims
    count: int
    peer: str | None  # who presented it first in that while (after trusted proxies)


@dataclass(frozen=True, slots=True)
class Counted:
    """Replays of one token to add to the fleet's tally."""

    session_id: str  # TokenKey.session_id, never the token
    count: int
    alert_window: int | None  # claim this window's alert (seconds); None: count only (grace)
    ttl_seconds: int  # how long the count lives: as long as the token could be presented


@dataclass(frozen=True, slots=True)
class Tally:
    """A token's replays counted across the fleet, and whether this call won its window's alert."""

    total: int
    alert: bool


@dataclass(frozen=True, slots=True)
class Ending:
    """How a replayed token was ended, as the log knows it."""

    revoked_at: float  # the earliest revocation that kills it
    everywhere: bool  # by a logout-all or lgt-all (a watermark), whatever else also did


ReplayAction = Literal["none", "logged_out_everywhere", "failed"]


@dataclass(frozen=True, slots=True)
class ReplayAlert:
    """The `revoked_token_replayed` event: one per token per window, fleet-wide."""

    user_id: int
    session_id: str  # the token's reference: TokenKey.session_id, never the token
    peer: str | None
    count: int  # replays of this token counted so far, fleet-wide
    ending: Ending
    window_seconds: int
    action: ReplayAction


def ending_of(claims: Claims, state: LogState) -> Ending | None:
    """How the log says the token was ended; None when it knows no revocation of it (yet)."""
    record, watermark = state.record, state.watermark
    blocked_at = record.blocked_at if record is not None else None
    own = record if record is not None and record.user_id == claims.user_id else None
    if watermark is not None:
        killed = (
            watermark.kills_issued_at(own.issued_at)
            if own is not None
            else watermark.kills_unlogged_iat(claims.issued_at)
        )
        if killed:
            at = watermark.revoked_before if blocked_at is None else blocked_at
            return Ending(min(at, watermark.revoked_before), everywhere=True)
    if blocked_at is not None:
        return Ending(blocked_at, everywhere=False)
    return None


@dataclass(slots=True)
class _Known:
    ending: Ending
    until: float


class KnownEndings:
    """How replayed tokens were ended, remembered by this process until they expire.

    A token's ending never moves its time (a later logout-all only makes it `everywhere`), and
    the grace period is all a round needs it for; so a flood of one revoked token costs the log
    one read, not one per round. Acting on a replay reads the log again (fresh facts).

    Bounded: past `max_tokens` tokens, the expired go first, then the oldest remembered.
    """

    def __init__(self, *, max_tokens: int = 10_000) -> None:
        self._max_tokens = max_tokens
        self._known: dict[TokenKey, _Known] = {}

    def get(self, key: TokenKey, now: float) -> Ending | None:
        known = self._known.get(key)
        if known is None or known.until <= now:
            return None
        return known.ending

    def remember(self, key: TokenKey, ending: Ending, *, until: float, now: float) -> None:
        if key not in self._known and len(self._known) >= self._max_tokens:
            self._known = {k: v for k, v in self._known.items() if v.until > now}
            while len(self._known) >= self._max_tokens:
                del self._known[next(iter(self._known))]
        self._known[key] = _Known(ending, until)
