"""The schema of the durable token log, as Piccolo tables.

The committed migrations in `piccolo_migrations/` are the source of truth for the database: they
also create the composite and partial indexes, which Piccolo columns cannot express. Keep the two
in step (the contract suite reads and writes these tables through the ORM to prove it).
"""

from __future__ import annotations

from piccolo.columns import BigInt, BigSerial, Boolean, Timestamptz, Varchar
from piccolo.table import Table


class UserTokenLog(Table, tablename="user_token_logs"):
    """One issued token: identified by (iss, jti), blocked iff `blocked_at` is set."""

    id = BigSerial(primary_key=True)  # opaque row id: the session id the API shows
    iss = Varchar(length=255, default="")
    jti = Varchar(length=255)
    user_id = BigInt()
    issued_at = Timestamptz()  # microseconds: decides the watermark edge within a second
    expires_at = Timestamptz(index=True)
    blocked_at = Timestamptz(null=True, default=None)
    device = Varchar(length=255, null=True, default=None)


class UserRevocationWatermark(Table, tablename="user_revocation_watermarks"):
    """A user's "logged out everywhere" instant; every token issued at or before it is dead."""

    user_id = BigInt(primary_key=True)
    revoked_before = Timestamptz()


class RevocationAudit(Table, tablename="revocation_audit"):
    """One revocation: who ended which session (or all of a user's), why, from where. Kept
    after the token rows are purged; sessions are named by their opaque id, never the token."""

    id = BigSerial(primary_key=True)
    user_id = BigInt()
    revoked_at = Timestamptz(index=True)
    session_id = Varchar(length=32, null=True, default=None)  # None: every session
    device = Varchar(length=255, null=True, default=None)
    reason = Varchar(length=32)
    actor_kind = Varchar(length=16)
    actor_name = Varchar(length=255, null=True, default=None)
    actor_session_id = Varchar(length=32, null=True, default=None)
    actor_device = Varchar(length=255, null=True, default=None)
    peer = Varchar(length=64, null=True, default=None)
    note = Varchar(length=200, null=True, default=None)
    note_dropped = Boolean(default=False)
