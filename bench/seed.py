"""Fill the benchmark's database: bulk token-log rows, and real tokens through the use cases."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from revocation.adapters.piccolo.engines import start_engine, stop_engine
from revocation.domain.audit import Reason, Revocation
from revocation.entrypoints.containers import Container
from revocation.entrypoints.settings import Settings

T = TypeVar("T")

# Bulk rows belong to users 1..SEED_USERS; the tokens the load runs use belong to users above.
SEED_USERS = 10_000
BENCH_USER_BASE = 1_000_000

# 10 % of the rows blocked, issue times spread over the last hour; `jti` as long as ours (22).
_BULK_ROWS = """
INSERT INTO user_token_logs (iss, jti, user_id, issued_at, expires_at, blocked_at, device)
SELECT 'bench', substr(md5(i::text), 1, 22), 1 + i % $2,
       now() - make_interval(secs => i % 3600), now() + interval '1 hour',
       CASE WHEN i % 10 = 0 THEN now() END, 'laptop'
FROM generate_series(1, $1) AS i
"""
_USER_ROWS = """
INSERT INTO user_token_logs (iss, jti, user_id, issued_at, expires_at, device)
SELECT 'bench', 'u' || $1::bigint || '-' || i, $1::bigint, now() - interval '1 minute',
       now() + interval '1 hour', 'laptop'
FROM generate_series(1, $2) AS i
"""


async def bulk_rows(database_url: str, rows: int) -> None:
    """`rows` token-log rows in one INSERT ... SELECT generate_series, then ANALYZE."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(_BULK_ROWS, rows, SEED_USERS)
        await connection.execute("VACUUM ANALYZE user_token_logs")
    finally:
        await connection.close()


async def user_with_tokens(database_url: str, user_id: int, count: int) -> None:
    """Give `user_id` `count` active logged tokens (for logout-all), in one statement."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(_USER_ROWS, user_id, count)
    finally:
        await connection.close()


async def table_size(database_url: str) -> tuple[int, int]:
    """(bytes of user_token_logs with its indexes and TOAST, its row count)."""
    connection = await asyncpg.connect(database_url)
    try:
        size = await connection.fetchval("SELECT pg_total_relation_size('user_token_logs')")
        count = await connection.fetchval("SELECT count(*) FROM user_token_logs")
    finally:
        await connection.close()
    return int(size), int(count)


@dataclass(frozen=True)
class Tokens:
    valid: list[str]
    revoked: list[str]


async def _with_use_cases(
    env: Mapping[str, str], work: Callable[[Container], Awaitable[T]], cache: str = "off"
) -> T:
    # A writer only, no tracking listener (it runs in an app's lifespan): the spec's flow, or
    # (`cache="redis"`) the mode in which issuance also marks its tokens logged in Redis.
    container = Container(settings=Settings.from_env({**env, "REVOCATION_CACHE": cache}))
    engine = container.database()
    await start_engine(engine)
    try:
        return await work(container)
    finally:
        await stop_engine(engine)
        await container.redis().aclose()


def issue_tokens(env: Mapping[str, str], count: int) -> Tokens:
    """`count` logged tokens, and `count` more logged out, through the service's own use cases."""

    async def issue(container: Container) -> Tokens:
        issue_token, logout = container.issue_token(), container.logout_token()
        valid, revoked = [], []
        for index in range(count):
            user_id = BENCH_USER_BASE + index
            valid.append((await issue_token(user_id=user_id, device="bench")).token)
            token = (await issue_token(user_id=user_id, device="bench")).token
            claims = container.codec().verify(token)
            await logout(
                claims=claims, revocation=Revocation.by_user(Reason.LOGOUT, claims.key, None)
            )
            revoked.append(token)
        return Tokens(valid=valid, revoked=revoked)

    return asyncio.run(_with_use_cases(env, issue))


def logged_tokens(env: Mapping[str, str], count: int, first_user: int) -> list[str]:
    """`count` fresh logged tokens of users `first_user`, `first_user + 1`, ... (to log out)."""

    async def issue(container: Container) -> list[str]:
        issue_token = container.issue_token()
        users = range(first_user, first_user + count)
        return [(await issue_token(user_id=user, device="bench")).token for user in users]

    return asyncio.run(_with_use_cases(env, issue))


def cold_tokens(env: Mapping[str, str], count: int, first_user: int) -> list[str]:
    """`count` logged tokens of users `first_user`... as the service issues them where Redis
    answers alone (marked logged there too), 32 at a time."""

    async def issue(container: Container) -> list[str]:
        issue_token, slots = container.issue_token(), asyncio.Semaphore(32)

        async def one(user: int) -> str:
            async with slots:
                return (await issue_token(user_id=user, device="bench")).token

        return list(await asyncio.gather(*(one(first_user + n) for n in range(count))))

    return asyncio.run(_with_use_cases(env, issue, cache="redis"))
