"""Apply the committed migrations of the `token_log` app to one engine: forward, idempotent."""

from __future__ import annotations

import contextlib
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from types import ModuleType

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

from revocation.adapters.piccolo import piccolo_migrations
from revocation.adapters.piccolo.engines import DatabaseEngine, database_errors
from revocation.adapters.piccolo.piccolo_app import APP_NAME

logger = logging.getLogger(__name__)

# Piccolo's own history table (piccolo.apps.migrations.tables.Migration, as Piccolo 1.38 creates
# it), so `piccolo migrations forwards token_log` and migrate() skip each other's work.
_HISTORY_TABLE = (
    'CREATE TABLE IF NOT EXISTS "migration" ("name" VARCHAR(200) NOT NULL DEFAULT \'\', '
    "\"app_name\" VARCHAR(200) NOT NULL DEFAULT '', "
    '"ran_on" TIMESTAMP NOT NULL DEFAULT current_timestamp, "id" {id_type} PRIMARY KEY NOT NULL)'
)
_HISTORY_ID_TYPES = {"postgres": "SERIAL", "sqlite": "INTEGER"}
# Serialises concurrent migrate() calls (two instances starting at once) on Postgres.
_ADVISORY_LOCK_ID = 0x7265766F6B65  # "revoke"


async def migrate(engine: DatabaseEngine) -> None:
    """Apply every committed migration the database lacks, in ID order, in one transaction.

    Safe to repeat and to run from several processes at once. Needs no connection pool.
    Raises TokenLogUnavailable when the database fails.
    """
    with database_errors("migrate the database"):
        async with _exclusive_transaction(engine):
            await engine.run_ddl(_HISTORY_TABLE.format(id_type=_HISTORY_ID_TYPES[_dialect(engine)]))
            done = await _applied(engine)
            for migration in committed_migrations():
                if migration.ID in done:
                    continue
                logger.info("applying migration %s: %s", migration.ID, migration.DESCRIPTION)
                for statement in migration.STATEMENTS[_dialect(engine)]:
                    await engine.run_ddl(statement)
                await engine.run_querystring(
                    QueryString(
                        "INSERT INTO migration (name, app_name) VALUES ({}, {})",
                        migration.ID,
                        APP_NAME,
                    )
                )


async def pending_migrations(engine: DatabaseEngine) -> list[str]:
    """IDs of the committed migrations the database lacks (all of them on a new database).

    Raises TokenLogUnavailable when the database fails.
    """
    with database_errors("read which migrations were applied"):
        done = await _applied(engine) if await _history_exists(engine) else set()
    return [str(m.ID) for m in committed_migrations() if str(m.ID) not in done]


async def _history_exists(engine: DatabaseEngine) -> bool:
    if _dialect(engine) == "sqlite":
        query = "SELECT count(*) AS found FROM sqlite_master WHERE type = 'table' AND name = {}"
    else:
        query = "SELECT count(*) AS found FROM pg_tables WHERE tablename = {}"
    rows = await engine.run_querystring(QueryString(query, "migration"))
    return bool(rows and rows[0]["found"])


def committed_migrations() -> list[ModuleType]:
    """The migration modules in `piccolo_migrations/`, oldest first."""
    package = piccolo_migrations.__name__
    modules = [
        importlib.import_module(f"{package}.{module.name}")
        for module in pkgutil.iter_modules(piccolo_migrations.__path__)
    ]
    return sorted(modules, key=lambda module: str(module.ID))


async def _applied(engine: DatabaseEngine) -> set[str]:
    rows = await engine.run_querystring(
        QueryString("SELECT name FROM migration WHERE app_name = {}", APP_NAME)
    )
    return {str(row["name"]) for row in rows}


def _dialect(engine: DatabaseEngine) -> str:
    if isinstance(engine, PostgresEngine):
        return "postgres"
    if isinstance(engine, SQLiteEngine):
        return "sqlite"
    raise TypeError(f"unsupported engine: {type(engine).__name__}")


@contextlib.asynccontextmanager
async def _exclusive_transaction(engine: DatabaseEngine) -> AsyncIterator[None]:
    if isinstance(engine, SQLiteEngine):
        # IMMEDIATE takes the write lock up front: a second migrator waits instead of failing.
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield
        return
    async with engine.transaction():
        await engine.run_querystring(
            QueryString("SELECT pg_advisory_xact_lock({})", _ADVISORY_LOCK_ID)
        )
        yield
