"""Values the revocation rules are written in. Times are Unix seconds (float) from the Clock."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_USER_ID = 2**63 - 1  # a Postgres BIGINT and a PHP int both stop here
_DECIMAL = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() would accept "٣"
_CANONICAL_DECIMAL = re.compile(r"[1-9][0-9]*")


def parse_user_id(value: object, *, canonical: bool = False) -> int | None:
    """A user id from a JSON integer or a decimal string, or None when it is not one.

    `canonical` refuses leading zeros (a token's `sub`); a PHP form may send "007".
    """
    if isinstance(value, bool):  # JSON true is a Python int
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        pattern = _CANONICAL_DECIMAL if canonical else _DECIMAL
        if len(value) > 19 or not pattern.fullmatch(value):
            return None
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_USER_ID else None


@dataclass(frozen=True, slots=True)
class TokenKey:
    """A token's identity: its issuer and `jti`, never its encoded string (that is malleable)."""

    issuer: str
    jti: str


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says about itself."""

    key: TokenKey
    user_id: int
    issued_at: int  # `iat`, whole seconds
    expires_at: int  # `exp`, whole seconds


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A row of the durable token log (`user_token_logs`)."""

    key: TokenKey
    user_id: int
    issued_at: float  # precise: decides the watermark edge within a second
    expires_at: float
    blocked_at: float | None = None
    device: str | None = None
    row_id: int | None = None

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None


@dataclass(frozen=True, slots=True)
class Watermark:
    """A user's "logged out everywhere" instant: every token issued at or before it is dead."""

    user_id: int
    revoked_before: float

    def kills_issued_at(self, issued_at: float) -> bool:
        """The precise rule, for a token whose exact issue time is logged."""
        return issued_at <= self.revoked_before

    def surely_kills_iat(self, iat: int) -> bool:
        """True when a whole-second `iat` proves the token older than the watermark.

        A token with `iat` = n was issued in [n, n + 1); only n + 1 <= watermark proves it.
        """
        return iat + 1 <= self.revoked_before

    def kills_unlogged_iat(self, iat: int) -> bool:
        """An unlogged token sharing the watermark's second is dead: nothing proves it newer."""
        return iat <= math.floor(self.revoked_before)


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    """One blocked token for the fast layer, with how long the entry must live."""

    key: TokenKey
    user_id: int
    ttl_seconds: int


@dataclass(frozen=True, slots=True)
class BlacklistState:
    """What the fast layer knows of one token, read in one round trip."""

    token_blocked: bool
    watermark: Watermark | None
    # The fast layer holds every revocation the log does (its "mirror complete" marker was
    # there): its "not revoked" is then an answer, not just the absence of a known one.
    complete: bool = False
    # A logout of this token is committing to the log right now (or died doing so): only the
    # log knows whether the token is blocked.
    token_pending: bool = False


@dataclass(frozen=True, slots=True)
class LogState:
    """What the durable log knows of one token and its user, read in one query."""

    record: TokenRecord | None
    watermark: Watermark | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed token and the record kept of it."""

    token: str
    record: TokenRecord


@dataclass(frozen=True, slots=True)
class Session:
    """One active logged token of a user, as the "where am I logged in" page shows it."""

    session_id: str  # opaque to callers: today the log's row id, as text
    device: str | None
    issued_at: float
    expires_at: float
    current: bool  # the token making the request
