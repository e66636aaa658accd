"""Indexes for the blacklist repair's keyset walks: blocked rows by expiry, watermarks by time.

Without them each repair page would scan every unexpired row, or every user's watermark.
Never edit a committed migration: add a new file.
"""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-25T17:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for paging through blocked tokens and watermarks"

_INDEXES = (
    "CREATE INDEX IF NOT EXISTS user_token_logs_blocked_by_expiry"
    " ON user_token_logs (expires_at, id) WHERE blocked_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS user_revocation_watermarks_by_time"
    " ON user_revocation_watermarks (revoked_before, user_id)",
)

# Identical on both engines (SQLite >= 3.8 has partial indexes).
STATEMENTS: dict[str, tuple[str, ...]] = {"postgres": _INDEXES, "sqlite": _INDEXES}


async def forwards() -> MigrationManager:
    """For the Piccolo CLI: runs STATEMENTS on piccolo_conf's engine, in the CLI's transaction."""
    manager = MigrationManager(migration_id=ID, app_name="token_log", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if engine is None:
            raise RuntimeError("piccolo_conf.py defines no DB engine")
        for statement in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
