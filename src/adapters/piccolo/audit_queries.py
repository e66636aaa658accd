"""The audit trail's SQL: each revocation's record is written by the statement (Postgres) or in
the transaction (SQLite) that makes the revocation durable, so neither exists without the other.

Placeholders are Piccolo `QueryString` `{}`s. A record names sessions by their opaque id and
device label only; an actor's device is read from its token's row as it was before the write
(its iss and jti find the row, and are not stored). A record's arguments, in order: user_id,
revoked_at, session_id, [device], reason, actor_kind, actor_name, actor_session_id, actor iss,
actor jti, peer, note, note_dropped.
"""

from __future__ import annotations

# Blocks the row of the (iss, jti), inserts a blocked one if the token was never logged; never
# unblocks, never re-dates a block. A row of another user with the same pair is blocked too:
# the pair is what a block refuses (a jti reused across users is the issuer's bug). And its
# record, only when it blocked the pair (not when it was blocked already), with the device of
# the blocked row: one statement, one round trip, one transaction.
BLOCK_AND_RECORD_POSTGRES = """
WITH blocked AS (
    INSERT INTO user_token_logs (iss, jti, user_id, issued_at, expires_at, blocked_at, device)
    VALUES ({}, {}, {}, {}, {}, {}, {})
    ON CONFLICT (iss, jti) DO UPDATE SET blocked_at = excluded.blocked_at
    WHERE user_token_logs.blocked_at IS NULL
    RETURNING device
)
INSERT INTO revocation_audit (user_id, revoked_at, session_id, device, reason, actor_kind,
    actor_name, actor_session_id, actor_device, peer, note, note_dropped)
SELECT {}, {}, {}, blocked.device, {}, {}, {}, {},
    (SELECT a.device FROM user_token_logs AS a WHERE a.iss = {} AND a.jti = {}), {}, {}, {}
FROM blocked
RETURNING 1
"""

# Postgres runs a data-modifying CTE exactly once, whether or not the rest reads it.
RAISE_WATERMARK_AND_RECORD_POSTGRES = """
WITH raised AS (
    INSERT INTO user_revocation_watermarks (user_id, revoked_before) VALUES ({}, {})
    ON CONFLICT (user_id) DO UPDATE SET revoked_before =
        GREATEST(user_revocation_watermarks.revoked_before, excluded.revoked_before)
)
INSERT INTO revocation_audit (user_id, revoked_at, session_id, device, reason, actor_kind,
    actor_name, actor_session_id, actor_device, peer, note, note_dropped)
VALUES ({}, {}, {}, {}, {}, {}, {}, {},
    (SELECT a.device FROM user_token_logs AS a WHERE a.iss = {} AND a.jti = {}), {}, {}, {})
"""

# SQLite has no data-modifying CTE: the token log runs the block (or queries'
# RAISE_WATERMARK_SQLITE) and then the record in one IMMEDIATE transaction.
BLOCK_RETURNING_SQLITE = """
INSERT INTO user_token_logs (iss, jti, user_id, issued_at, expires_at, blocked_at, device)
VALUES ({}, {}, {}, {}, {}, {}, {})
ON CONFLICT (iss, jti) DO UPDATE SET blocked_at = excluded.blocked_at
WHERE user_token_logs.blocked_at IS NULL
RETURNING device
"""

RECORD_SQLITE = """
INSERT INTO revocation_audit (user_id, revoked_at, session_id, device, reason, actor_kind,
    actor_name, actor_session_id, actor_device, peer, note, note_dropped)
VALUES ({}, {}, {}, {}, {}, {}, {}, {},
    (SELECT a.device FROM user_token_logs AS a WHERE a.iss = {} AND a.jti = {}), {}, {}, {})
"""

# A keyset page on (user_id, id): the same cost on the thousandth page as on the first.
HISTORY = """
SELECT id, user_id, revoked_at, session_id, device, reason, actor_kind, actor_name,
       actor_session_id, actor_device, peer, note, note_dropped
FROM revocation_audit
WHERE user_id = {} AND id < {}
ORDER BY id DESC
LIMIT {}
"""

PURGE_BEFORE = """
DELETE FROM revocation_audit WHERE id IN (
    SELECT id FROM revocation_audit WHERE revoked_at < {} ORDER BY revoked_at LIMIT {}
)
RETURNING id
"""
