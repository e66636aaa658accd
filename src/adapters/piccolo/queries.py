"""The token log's SQL, one statement per operation, for Postgres and SQLite (>= 3.35).

Placeholders are Piccolo `QueryString` `{}`s: Piccolo compiles them to `$n` or `?` per engine.
A token is its (iss, jti): the raw token string is never stored, so it can never leak from here.
"""

from __future__ import annotations

RECORD = """
INSERT INTO user_token_logs (iss, jti, user_id, issued_at, expires_at, blocked_at, device)
VALUES ({}, {}, {}, {}, {}, {}, {})
ON CONFLICT (iss, jti) DO NOTHING
RETURNING id
"""

# One row always (the `one` table), whether or not the token or the watermark exist.
LOOKUP = """
SELECT t.id, t.iss, t.jti, t.user_id, t.issued_at, t.expires_at, t.blocked_at, t.device,
       w.revoked_before
FROM (SELECT 1 AS one) AS one
LEFT JOIN user_token_logs AS t ON t.iss = {} AND t.jti = {}
LEFT JOIN user_revocation_watermarks AS w ON w.user_id = {}
"""

# revoke_all raises the watermark (keeping the max), then blocks in ONE UPDATE. Postgres runs both
# as one statement (data-modifying CTEs: atomic, one round trip); SQLite has no such CTE, so the
# token log runs the two statements in one IMMEDIATE transaction. Arguments, in order:
# (user_id, watermark) for the upsert, then (watermark, user_id, watermark) for the UPDATE.
# Only the count comes back: decoding thousands of rows would stall the event loop for nothing.
REVOKE_ALL_POSTGRES = """
WITH raised AS (
    INSERT INTO user_revocation_watermarks (user_id, revoked_before) VALUES ({}, {})
    ON CONFLICT (user_id) DO UPDATE SET revoked_before =
        GREATEST(user_revocation_watermarks.revoked_before, excluded.revoked_before)
), blocked AS (
    UPDATE user_token_logs SET blocked_at = {}
    WHERE user_id = {} AND blocked_at IS NULL AND issued_at <= {}
    RETURNING 1
)
SELECT count(*) AS blocked FROM blocked
"""

RAISE_WATERMARK_SQLITE = """
INSERT INTO user_revocation_watermarks (user_id, revoked_before) VALUES ({}, {})
ON CONFLICT (user_id) DO UPDATE SET revoked_before =
    MAX(user_revocation_watermarks.revoked_before, excluded.revoked_before)
"""

BLOCK_ISSUED_BEFORE_SQLITE = """
UPDATE user_token_logs SET blocked_at = {}
WHERE user_id = {} AND blocked_at IS NULL AND issued_at <= {}
RETURNING 1
"""

ACTIVE_SESSIONS = """
SELECT t.id, t.iss, t.jti, t.user_id, t.issued_at, t.expires_at, t.blocked_at, t.device
FROM user_token_logs AS t
LEFT JOIN user_revocation_watermarks AS w ON w.user_id = t.user_id
WHERE t.user_id = {} AND t.blocked_at IS NULL AND t.expires_at > {}
  AND (w.revoked_before IS NULL OR t.issued_at > w.revoked_before)
ORDER BY t.issued_at DESC, t.id
"""

PURGE_EXPIRED = """
DELETE FROM user_token_logs WHERE id IN (
    SELECT id FROM user_token_logs WHERE expires_at < {} ORDER BY expires_at LIMIT {}
)
RETURNING id
"""

# Keyset pages for the blacklist repair: each walks its own index in order, so every page costs
# the same on a large table, and only blocked unexpired rows / recent watermarks are touched.
BLOCKED_AFTER = """
SELECT id, iss, jti, user_id, issued_at, expires_at, blocked_at, device
FROM user_token_logs
WHERE blocked_at IS NOT NULL AND (expires_at, id) > ({}, {})
ORDER BY expires_at, id
LIMIT {}
"""

WATERMARKS_AFTER = """
SELECT user_id, revoked_before FROM user_revocation_watermarks
WHERE (revoked_before, user_id) > ({}, {})
ORDER BY revoked_before, user_id
LIMIT {}
"""
