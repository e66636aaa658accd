"""The schema of the durable token log, as Piccolo tables.

The committed migrations in `piccolo_migrations/` are the source of truth for the database: they
also create the composite and partial indexes, which Piccolo columns cannot express. Keep the two
in step (the contract suite reads and writes these tables through the ORM to prove it).
"""

from __future__ import annotations

from piccolo.columns import BigInt, BigSerial, Timestamptz, Varchar
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
