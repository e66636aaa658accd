"""Values the revocation rules are written in. Times are Unix seconds (float) from the Clock."""

from __future__ import annotations

import base64
import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass

from revocation.domain.errors import InvalidDevice

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


MAX_DEVICE_LENGTH = 255  # characters: the log's varchar(255)


def device_label(value: object) -> str | None:
    """A device label as given at issuance (None or "" for none), or InvalidDevice.

    Shown back in the sessions list: no control characters (a line break would forge a line in
    a log or a page), nothing the database cannot store (a lone surrogate), at most 255.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_DEVICE_LENGTH:
        raise InvalidDevice(f"device must be text of at most {MAX_DEVICE_LENGTH} characters")
    if any(unicodedata.category(character) in ("Cc", "Cs") for character in value):
        raise InvalidDevice("device must not contain control characters or lone surrogates")
    return value


@dataclass(frozen=True, slots=True)
class TokenKey:
    """A token's identity: its issuer and `jti`, never its encoded string (that is malleable)."""

    issuer: str
    jti: str

    def material(self) -> bytes:
        """The pair as bytes no other pair shares: the issuer's length first, so ("a|b", "c")
        and ("a", "b|c") differ. Whatever is derived from a token is derived from this."""
        issuer = self.issuer.encode("utf-8", "surrogatepass")
        return len(issuer).to_bytes(4, "big") + issuer + self.jti.encode("utf-8", "surrogatepass")

    @property
    def session_id(self) -> str:
        """The opaque id the sessions API shows: stable for the token, unguessable without it
        (its jti is random), and saying nothing of how many tokens exist (a row number would)."""
        digest = hashlib.sha256(b"session\x00" + self.material()).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


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

    def kills_unlogged_iat(self, iat: int, skew_seconds: int = 0) -> bool:
        """An unlogged token sharing the watermark's second is dead: nothing proves it newer.

        Its `iat` comes from its issuer's clock, not ours: `skew_seconds` widens the dead zone
        for an issuer whose clock may run that far ahead.
        """
        return iat <= math.floor(self.revoked_before) + skew_seconds


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    """One blocked (iss, jti) for the fast layer, with how long the entry must live.

    Keyed by the pair alone, whoever's token it was: a block refuses every token carrying it.
    """

    key: TokenKey
    ttl_seconds: int


@dataclass(frozen=True, slots=True)
class LoggedMark:
    """The fast layer's copy of a logged row: whose token it is, and its precise issue time."""

    user_id: int
    issued_at: float


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """One logged token for the fast layer, with how long the copy may live: never past the
    instant its row may be purged, so "logged" there never outlives the log's own answer."""

    key: TokenKey
    mark: LoggedMark
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
    # The token's (iss, jti) is logged, for this user and issue time (None: not known here).
    logged: LoggedMark | None = None


@dataclass(frozen=True, slots=True)
class LogState:
    """What the durable log knows of one token and its user, read in one query."""

    record: TokenRecord | None  # the row of the token's (iss, jti), whoever's it is
    watermark: Watermark | None  # the token's user's


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed token and the record kept of it."""

    token: str
    record: TokenRecord


@dataclass(frozen=True, slots=True)
class Session:
    """One active logged token of a user, as the "where am I logged in" page shows it."""

    session_id: str  # opaque to callers: TokenKey.session_id
    device: str | None
    issued_at: float
    expires_at: float
    current: bool  # the token making the request
