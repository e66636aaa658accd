"""Who ended which sessions, and why: what a revocation records of itself, and reads back.

A record names sessions by their opaque id (TokenKey.session_id), never by the token.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from revocation.domain.errors import InvalidPage
from revocation.domain.model import TokenKey


class Reason(StrEnum):
    """Why sessions ended: stable codes, in the audit trail, the history and the logs."""

    LOGOUT = "logout"  # the user logged this session out
    LOGOUT_ALL = "logout_all"  # the user logged out everywhere
    SESSION_REVOKED = "session_revoked"  # the user ended a session from the sessions list
    SERVICE_LOGOUT_ALL = "service_logout_all"  # the trusted service's lgt-all
    REPLAY_DETECTED = "replay_detected"  # a revoked token came back: the replay policy acted
    OAUTH_REVOCATION = "oauth_revocation"  # an OAuth client revoked the token (RFC 7009)


ActorKind = Literal["user", "service", "policy", "oauth_client"]
MAX_NAME_LENGTH = 255
MAX_PEER_LENGTH = 64
MAX_NOTE_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked for a revocation."""

    kind: ActorKind
    name: str | None = None  # the service's app id, the OAuth client's id, the policy's name
    # The token it acted from (a user); the policy's: the revoked token that came back. Only
    # its session id and device label are recorded.
    session: TokenKey | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _printable(self.name, MAX_NAME_LENGTH))

    @classmethod
    def user(cls, session: TokenKey) -> Actor:
        return cls("user", session=session)

    @classmethod
    def service(cls, app_id: str) -> Actor:
        return cls("service", name=app_id)

    @classmethod
    def oauth_client(cls, client_id: str) -> Actor:
        return cls("oauth_client", name=client_id)

    @classmethod
    def replay_policy(cls, replayed: TokenKey) -> Actor:
        return cls("policy", name="replay", session=replayed)


@dataclass(frozen=True, slots=True)
class Revocation:
    """Why a revocation happens and who asked: recorded with it, in the same transaction."""

    reason: Reason
    actor: Actor
    peer: str | None = None  # the caller's address as the service saw it (after trusted proxies)
    note: str | None = None  # the trusted service's short reason, shown to the user
    note_dropped: bool = False  # a reason was given that is not short plain text: not kept

    def __post_init__(self) -> None:
        # Bounded here, so the audit write that shares the revocation's transaction can't fail.
        object.__setattr__(self, "peer", _printable(self.peer, MAX_PEER_LENGTH))
        object.__setattr__(self, "note", _printable(self.note, MAX_NOTE_LENGTH))

    @classmethod
    def by_user(cls, reason: Reason, session: TokenKey, peer: str | None) -> Revocation:
        return cls(reason, Actor.user(session), peer)

    @classmethod
    def by_service(cls, app_id: str, peer: str | None, reason: object) -> Revocation:
        """lgt-all's: an unusable `reason` is dropped, and that it was is recorded."""
        note, dropped = service_note(reason)
        return cls(Reason.SERVICE_LOGOUT_ALL, Actor.service(app_id), peer, note, dropped)


def service_note(value: object) -> tuple[str | None, bool]:
    """A service's optional reason as (note, dropped): short text without control characters
    is kept (trimmed); none given is (None, False); anything else is dropped, never refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, False
    if not isinstance(value, str) or len(value.strip()) > MAX_NOTE_LENGTH or _unprintable(value):
        return None, True
    return value.strip(), False


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One revocation as the audit trail keeps it (it outlives the token rows)."""

    record_id: int  # increasing: the history's pages are keyed on it
    user_id: int
    revoked_at: float
    session_id: str | None  # the ended session; None: every session of the user
    device: str | None  # the ended session's device label
    reason: str  # a Reason (a newer version may have written one this one does not know)
    actor_kind: str
    actor_name: str | None
    actor_session_id: str | None
    actor_device: str | None
    peer: str | None
    note: str | None
    note_dropped: bool


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A page of a user's history, newest first; `next_cursor` asks for the one after it."""

    records: list[AuditRecord]
    next_cursor: str | None


DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# A row id (0..2^63-1) as 8 bytes in base64url without padding: the first character carries the
# sign bit (always 0), the last one 4 bits and 2 zero ones. Every text of this shape is a cursor.
CURSOR_PATTERN = "^[A-Za-f][A-Za-z0-9_-]{9}[AEIMQUYcgkosw048]$"
_CURSOR = re.compile(CURSOR_PATTERN)


def cursor_after(record: AuditRecord) -> str:
    """The opaque cursor of the page that follows `record` (its row id, encoded)."""
    return base64.urlsafe_b64encode(record.record_id.to_bytes(8, "big")).rstrip(b"=").decode()


def page_request(cursor: object, limit: object) -> tuple[int | None, int]:
    """(the row id a page starts below, its size), or InvalidPage."""
    if limit is None:
        limit = DEFAULT_PAGE_SIZE
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)  # JSON has one number type: 36.0 is the integer 36 (JSON Schema agrees)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidPage(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
    if cursor is None:
        return None, limit
    if not isinstance(cursor, str) or not _CURSOR.fullmatch(cursor):
        raise InvalidPage("cursor must be one a previous page gave")
    return int.from_bytes(base64.urlsafe_b64decode(cursor + "="), "big"), limit


def _unprintable(text: str) -> bool:
    return any(unicodedata.category(character) in ("Cc", "Cs") for character in text)


def _printable(text: str | None, length: int) -> str | None:
    """Control characters and lone surrogates out (a line break would forge a log line, a NUL
    fails a Postgres write), at most `length` characters."""
    if text is None:
        return None
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))
    return kept[:length] or None
