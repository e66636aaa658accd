"""Builds each TokenLog implementation for the contract suite, and the records it stores."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from revocation.adapters.piccolo.engines import build_engine, start_engine, stop_engine
from revocation.adapters.piccolo.migrate import migrate
from revocation.adapters.piccolo.token_log import PiccoloTokenLog
from revocation.domain.model import TokenKey, TokenRecord
from tests.random_refs import random_key, random_user_id

# Times are data here, not a clock: a fixed instant keeps every expectation exact. Each value
# the suite stores is a whole number of microseconds, the precision the database columns keep.
NOW = 1_750_000_000.0
HOUR = 3600.0
MICROSECOND = 0.000_001


def a_record(
    user_id: int | None = None,
    *,
    key: TokenKey | None = None,
    issued_at: float = NOW - 60.0,
    expires_at: float = NOW + HOUR,
    device: str | None = None,
) -> TokenRecord:
    return TokenRecord(
        key=key or random_key(),
        user_id=random_user_id() if user_id is None else user_id,
        issued_at=issued_at,
        expires_at=expires_at,
        device=device,
    )


def migrate_once(database_url: str) -> None:
    """Create the schema from a session fixture, on a loop of its own in a worker thread.

    Session fixtures may be set up while a test's loop runs; async engines and pools stay
    function-scoped because each test has its own loop.
    """
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, migrate(build_engine(database_url))).result()


@contextlib.asynccontextmanager
async def piccolo_token_log(database_url: str) -> AsyncIterator[PiccoloTokenLog]:
    """A PiccoloTokenLog on a started engine, stopped afterwards."""
    engine = build_engine(database_url)
    await start_engine(engine)
    try:
        yield PiccoloTokenLog(engine)
    finally:
        await stop_engine(engine)


async def fetch_column(database_url: str, sql: str) -> list[Any]:
    """The first column of a raw SQL query: the side door that bypasses the adapter."""
    connection = await asyncpg.connect(database_url)
    try:
        return [row[0] for row in await connection.fetch(sql)]
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def fresh_postgres_database(server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the server, dropped afterwards."""
    name = f"token_log_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """The port of a TCP server that accepts connections and never answers: a hung database."""
    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # returns when the client gives up

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
