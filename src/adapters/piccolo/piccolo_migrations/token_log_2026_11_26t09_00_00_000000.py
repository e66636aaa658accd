"""The audit trail: one row per revocation (who ended which session, why), kept after the token
rows are purged, and the indexes its history pages and its purge walk.

Never edit a committed migration: add a new file.
"""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "revocation_audit and its indexes"

# No timestamp default, as in the first migration: every value comes from the adapter in one
# format. Lengths are the domain's bounds, so a record never fails the write it shares.
_TABLE = """
CREATE TABLE IF NOT EXISTS "revocation_audit" (
    "id" {id_type},
    "user_id" {bigint} NOT NULL,
    "revoked_at" TIMESTAMPTZ NOT NULL,
    "session_id" VARCHAR(32) DEFAULT NULL,
    "device" VARCHAR(255) DEFAULT NULL,
    "reason" VARCHAR(32) NOT NULL,
    "actor_kind" VARCHAR(16) NOT NULL,
    "actor_name" VARCHAR(255) DEFAULT NULL,
    "actor_session_id" VARCHAR(32) DEFAULT NULL,
    "actor_device" VARCHAR(255) DEFAULT NULL,
    "peer" VARCHAR(64) DEFAULT NULL,
    "note" VARCHAR(200) DEFAULT NULL,
    "note_dropped" BOOLEAN NOT NULL DEFAULT FALSE
)
"""

# Identical on both engines.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS revocation_audit_by_user ON revocation_audit (user_id, id)",
    "CREATE INDEX IF NOT EXISTS revocation_audit_by_time ON revocation_audit (revoked_at)",
)

STATEMENTS: dict[str, tuple[str, ...]] = {
    "postgres": (
        _TABLE.format(id_type="BIGSERIAL PRIMARY KEY NOT NULL", bigint="BIGINT").strip(),
        *_INDEXES,
    ),
    "sqlite": (
        _TABLE.format(
            id_type="INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", bigint="INTEGER"
        ).strip(),
        *_INDEXES,
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
