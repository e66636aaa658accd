"""Piccolo engines built from a database URL, their asyncpg pool, and database error translation.

Piccolo's `Engine.__init__` checks the server version over a blocking connection and only warns
(an error under our pytest) when the database is down. `_PostgresEngine` skips that check, so
building an engine does no I/O; `start_engine` connects instead and fails with a clear error.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.exceptions import TransactionError
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from revocation.domain.errors import TokenLogUnavailable

logger = logging.getLogger(__name__)

DatabaseEngine = Engine[Any]  # a PostgresEngine or a SQLiteEngine

_POSTGRES_SCHEMES = ("postgres://", "postgresql://")
_SQLITE_SCHEME = "sqlite:///"

# Everything a driver raises when the database is down, slow, locked or refuses a statement.
# asyncio.TimeoutError is TimeoutError, an OSError; ConnectionError is an OSError too.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,
    sqlite3.Error,
    TransactionError,
)


class _PostgresEngine(PostgresEngine):
    """A PostgresEngine that does no I/O when built and remembers its pool settings."""

    def __init__(self, config: dict[str, Any], pool_options: dict[str, Any]) -> None:
        self.pool_options = pool_options
        super().__init__(config=config, extensions=())

    async def check_version(self) -> None:
        """Skipped: it would block on a connection at start-up; start_engine connects instead."""


def build_engine(
    database_url: str,
    *,
    command_timeout: float = 5.0,
    connect_timeout: float = 5.0,
    pool_min_size: int = 1,
    pool_max_size: int = 10,
) -> DatabaseEngine:
    """A PostgresEngine for postgres(ql):// URLs, a SQLiteEngine for sqlite:///<file>; no I/O."""
    if database_url.startswith(_POSTGRES_SCHEMES):
        config = {
            "dsn": database_url,
            "timeout": connect_timeout,  # asyncpg's default is 60 s
            "command_timeout": command_timeout,
        }
        pool_options = {"min_size": pool_min_size, "max_size": pool_max_size}
        return _PostgresEngine(config=config, pool_options=pool_options)
    if database_url.startswith(_SQLITE_SCHEME):
        path = database_url.removeprefix(_SQLITE_SCHEME)
        if not path or ":memory:" in path or "mode=memory" in path:
            # Piccolo opens a new SQLite connection per query: an in-memory database would be
            # a new, empty one each time.
            raise ValueError(f"SQLite needs a database file, not {database_url!r}")
        # `timeout` is how long SQLite waits for another writer's lock.
        return SQLiteEngine(path=path, timeout=command_timeout)
    raise ValueError(f"unsupported database URL scheme: {database_url.split(':', 1)[0]!r}")


async def _keep_session_state(connection: object) -> None:
    """Replaces asyncpg's per-release reset query (a round trip per request).

    asyncpg still rolls back a transaction left open (a cancelled request) before calling this,
    and we never change session state (SET, LISTEN, advisory locks) on pooled connections.
    """


async def start_engine(engine: DatabaseEngine) -> None:
    """Open the engine's asyncpg pool (nothing to do for SQLite); raises TokenLogUnavailable."""
    if not isinstance(engine, PostgresEngine) or engine.pool is not None:
        return
    options = getattr(engine, "pool_options", {})
    with database_errors("start the connection pool"):
        await engine.start_connection_pool(**options, reset=_keep_session_state)


async def start_engine_even_if_down(engine: DatabaseEngine) -> None:
    """start_engine, or, if the database is down, a pool that connects on first use.

    The server then starts and answers 503 until the database is back, and recovers by itself
    (a supervisor restart loop would recover no sooner).
    """
    try:
        await start_engine(engine)
    except TokenLogUnavailable:
        if not isinstance(engine, PostgresEngine):
            raise
        logger.warning("database unreachable at start-up: serving 503s until it answers")
        options = {**getattr(engine, "pool_options", {}), "min_size": 0}  # min 0: no I/O now
        await engine.start_connection_pool(**options, reset=_keep_session_state)


@contextlib.asynccontextmanager
async def pool_open(engine: DatabaseEngine) -> AsyncIterator[None]:
    """The engine's pool, open while inside (even while the database is down: see
    start_engine_even_if_down), closed after."""
    await start_engine_even_if_down(engine)
    try:
        yield
    finally:
        await stop_engine(engine)


async def stop_engine(engine: DatabaseEngine) -> None:
    """Close the engine's asyncpg pool, if it has one."""
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        with database_errors("close the connection pool"):
            await engine.close_connection_pool()


@contextlib.contextmanager
def database_errors(action: str) -> Iterator[None]:
    """Turn any database driver error into TokenLogUnavailable (the domain's 503)."""
    try:
        yield
    except DATABASE_ERRORS as error:
        logger.warning("token log: could not %s: %s: %s", action, type(error).__name__, error)
        raise TokenLogUnavailable(f"could not {action}") from error
