"""Data: every logout that answered 200 survives Redis crashing; purging never drops a live row.

Both run on servers of their own (a throwaway redis-server; a throwaway Postgres cluster with
pg_stat_statements, which counts the purge's statements from outside the adapter).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.integration.service_calls import UNAUTHORIZED, identity, issue_token, logout
from tests.integration.throwaway import (
    ThrowawayRedis,
    fresh_database,
    throwaway_postgres,
    throwaway_redis,
)
from tests.live_server import REPO, SERVER_ENV, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

LOGOUTS = 30


@pytest.fixture
def fault_redis() -> Iterator[ThrowawayRedis]:
    with throwaway_redis() as server:
        yield server


async def blocked_jtis(database_url: str, jtis: list[str]) -> set[str]:
    """The side door: which of these tokens the database holds as blocked."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT jti FROM user_token_logs WHERE iss = $1 AND jti = ANY($2::text[])"
            " AND blocked_at IS NOT NULL",
            SERVER_ENV["JWT_ISSUER"],
            jtis,
        )
    finally:
        await connection.close()
    return {row["jti"] for row in rows}


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


def test_every_acknowledged_logout_survives_redis_crashing_and_restarting(
    database_url: str, fault_redis: ThrowawayRedis
) -> None:
    # Repair off: after the restart only the database can still know these tokens.
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": fault_redis.url,
        "BLACKLIST_REPAIR_INTERVAL_SECONDS": "0",
    }
    with live_server(env) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        tokens = [issue_token(client, random_user_id()) for _ in range(LOGOUTS)]
        assert [logout(client, token).status_code for token in tokens] == [200] * LOGOUTS

        fault_redis.kill()
        jtis = [identity(token)[0].jti for token in tokens]
        assert asyncio.run(blocked_jtis(database_url, jtis)) == set(jtis)
        assert all(logout(client, token).json() == UNAUTHORIZED for token in tokens)

        fault_redis.start()  # back, and empty
        assert all(logout(client, token).json() == UNAUTHORIZED for token in tokens)


SEED = """
INSERT INTO user_token_logs (iss, jti, user_id, issued_at, expires_at)
SELECT 'seed', 'expired-' || n, n, now() - interval '2 hours',
       now() - interval '1 hour' - n * interval '1 millisecond'
FROM generate_series(1, 50000) AS n
UNION ALL
SELECT 'seed', 'leeway-' || n, n, now() - interval '1 hour', now() - interval '3 seconds'
FROM generate_series(1, 100) AS n
UNION ALL
SELECT 'seed', 'live-' || n, n, now(), now() + interval '1 hour'
FROM generate_series(1, 100) AS n
"""
PURGE_STATEMENTS = """
SELECT coalesce(sum(calls), 0), coalesce(sum(rows), 0) FROM pg_stat_statements
WHERE query LIKE '%DELETE FROM user_token_logs%'
"""


async def seed(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await connection.execute(SEED)
        await connection.execute("SELECT pg_stat_statements_reset()")
    finally:
        await connection.close()


async def after_purge(database_url: str) -> tuple[list[str], tuple[int, int]]:
    connection = await asyncpg.connect(database_url)
    try:
        kinds = await connection.fetch(
            "SELECT split_part(jti, '-', 1) AS kind, count(*) FROM user_token_logs"
            " GROUP BY kind ORDER BY kind"
        )
        calls, rows = await connection.fetchrow(PURGE_STATEMENTS)
    finally:
        await connection.close()
    return [f"{row['kind']}:{row['count']}" for row in kinds], (int(calls), int(rows))


def test_purge_expired_keeps_every_presentable_row_and_deletes_in_batches() -> None:
    with throwaway_postgres("shared_preload_libraries=pg_stat_statements") as cluster:
        env = {**os.environ, **SERVER_ENV, "DATABASE_URL": cluster.url, "JWT_LEEWAY_SECONDS": "10"}
        cli = [sys.executable, "-m", "revocation.entrypoints.cli"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True, cwd=REPO)
        asyncio.run(seed(cluster.url))

        purge = [*cli, "purge-expired", "--batch-size", "5000"]
        done = subprocess.run(purge, env=env, check=True, capture_output=True, cwd=REPO, text=True)

        remaining, (statements, deleted) = asyncio.run(after_purge(cluster.url))
    assert "purged 50000 " in done.stdout
    assert remaining == ["leeway:100", "live:100"]  # expired within the leeway: still presentable
    assert (statements, deleted) == (11, 50_000)  # 10 full batches, then one that finds none
