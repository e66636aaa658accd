"""Creates the token log, the watermarks and the indexes the hot path needs.

Raw SQL because Piccolo's migration operations cannot declare composite or partial indexes.
`migrate()` runs STATEMENTS on the engine it is given; the Piccolo CLI
(`piccolo migrations forwards token_log`) runs the same statements through `forwards()`.
Never edit a committed migration: add a new file.
"""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-25T16:27:27:000000"
VERSION = "1.38.0"
DESCRIPTION = "user_token_logs, user_revocation_watermarks and their indexes"

# Timestamps have no database default: Piccolo's SQLite stores datetimes as text and orders them
# as text, so every value must come from the adapter in one format (SQLite's current_timestamp
# has another). SQLite's AUTOINCREMENT never reuses a purged row id (Postgres sequences never do).
_TABLES = """
CREATE TABLE IF NOT EXISTS "user_token_logs" (
    "id" {id_type},
    "iss" VARCHAR(255) NOT NULL DEFAULT '',
    "jti" VARCHAR(255) NOT NULL,
    "user_id" {bigint} NOT NULL,
    "issued_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "blocked_at" TIMESTAMPTZ DEFAULT NULL,
    "device" VARCHAR(255) DEFAULT NULL
);
CREATE TABLE IF NOT EXISTS "user_revocation_watermarks" (
    "user_id" {bigint} PRIMARY KEY NOT NULL,
    "revoked_before" TIMESTAMPTZ NOT NULL
);
"""

# Identical on both engines (SQLite >= 3.8 has partial indexes).
_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS user_token_logs_iss_jti ON user_token_logs (iss, jti);
CREATE INDEX IF NOT EXISTS user_token_logs_active_by_user ON user_token_logs (user_id, issued_at) WHERE blocked_at IS NULL;
CREATE INDEX IF NOT EXISTS user_token_logs_expires_at ON user_token_logs (expires_at);
"""


def _statements(tables: str) -> tuple[str, ...]:
    script = tables + _INDEXES
    return tuple(statement.strip() for statement in script.split(";") if statement.strip())


STATEMENTS: dict[str, tuple[str, ...]] = {
    "postgres": _statements(
        _TABLES.format(id_type="BIGSERIAL PRIMARY KEY NOT NULL", bigint="BIGINT")
    ),
    "sqlite": _statements(
        _TABLES.format(id_type="INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", bigint="INTEGER")
    ),
}


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
