"""The hand-written reference: the same four checks with raw redis-py, PyJWT and asyncpg.

What a careful engineer would write inline in one Litestar handler: no DI container, no ports, no
ORM, no middleware. Same framework and same ASGI server as the service, so the ratio measures
what our structure costs, not Litestar. Same key layout (RedisBlacklist's), the same one-row SQL
lookup, and asyncpg's per-release reset skipped as the service does: the strongest fair baseline.

Run: `python -m bench.reference_app --port 8001 [--server granian|uvicorn] [--workers 1]`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import jwt
from litestar import Litestar, Request, get
from litestar.response import Response
from redis.asyncio import Redis

from bench.serve import serve
from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.client import RedisFailures
from revocation.domain.model import TokenKey
from revocation.entrypoints.http.verify import VERIFY_PATH  # the service's protected route

HELLO_PATH = "/health/live"
LOOKUP = """
SELECT t.issued_at, t.blocked_at, w.revoked_before
FROM (SELECT 1 AS one) AS one
LEFT JOIN user_token_logs AS t ON t.iss = $1 AND t.jti = $2 AND t.user_id = $3
LEFT JOIN user_revocation_watermarks AS w ON w.user_id = $3
"""
_REQUIRED = ["exp", "iat", "jti", "sub"]
_UNAUTHORIZED = Response(
    b'{"title":"Unauthorized"}',
    status_code=401,
    headers={"WWW-Authenticate": "Bearer"},
    media_type="application/json",
)


async def _skip_reset(connection: object) -> None:
    """asyncpg would otherwise send a reset query on every release: one more round trip."""


class Checks:
    """The four checks, with the connections they need; built from the environment."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.secret = environ["JWT_SECRET"]
        self.issuer = environ.get("JWT_ISSUER") or None
        self.database_url = environ["DATABASE_URL"]
        self.redis = Redis.from_url(environ["REDIS_URL"])
        self.keys = RedisBlacklist(
            self.redis, RedisFailures()
        )  # only for its key layout: no I/O through it
        self.pool: Any = None

    async def verify(self, authorization: str | None) -> Response[Any]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _UNAUTHORIZED
        options: Any = {"verify_signature": False, "require": _REQUIRED}
        try:
            peeked = jwt.decode(token, options=options)
            user_id, iat = int(peeked["sub"]), int(peeked["iat"])
            key = TokenKey(issuer=str(peeked.get("iss", "")), jti=str(peeked["jti"]))
        except (jwt.PyJWTError, ValueError, TypeError):
            return _UNAUTHORIZED
        # 1. Redis: the token's entry and the user's watermark (microseconds), one MGET.
        blocked, mark = await self.redis.mget(
            [self.keys.keys.token_key(key), self.keys.keys.watermark_key(user_id)]
        )
        if blocked is not None or (mark is not None and (iat + 1) * 1_000_000 <= int(mark)):
            return _UNAUTHORIZED
        # 2. Signature and claims.
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                options={"require": _REQUIRED, "verify_sub": False},
                issuer=self.issuer,
                leeway=10,
            )
        except jwt.PyJWTError:
            return _UNAUTHORIZED
        # 3. The database: the logged row, active and newer than the user's watermark.
        row = await self.pool.fetchrow(LOOKUP, key.issuer, key.jti, user_id)
        issued_at: datetime | None = row["issued_at"]
        revoked_before: datetime | None = row["revoked_before"]
        if issued_at is None or row["blocked_at"] is not None:
            return _UNAUTHORIZED
        if revoked_before is not None and issued_at <= revoked_before:
            return _UNAUTHORIZED
        headers = {
            "X-User-Id": str(user_id),
            "X-Token-Jti": key.jti,
            "X-Token-Expires-At": str(claims["exp"]),
            "Cache-Control": "no-store",
        }
        if key.issuer:
            headers["X-Token-Issuer"] = key.issuer
        return Response(b"", status_code=200, headers=headers)


def create_app() -> Litestar:
    """The reference app (an ASGI factory): a hello route and the verify route."""
    checks = Checks(dict(os.environ))

    @get(HELLO_PATH)
    async def hello() -> dict[str, str]:
        return {"status": "ok"}

    @get(VERIFY_PATH)
    async def verify(request: Request[Any, Any, Any]) -> Response[Any]:
        return await checks.verify(request.headers.get("authorization"))

    @asynccontextmanager
    async def connections(_: Litestar) -> AsyncIterator[None]:
        checks.pool = await asyncpg.create_pool(
            checks.database_url, min_size=1, max_size=10, reset=_skip_reset
        )
        try:
            yield
        finally:
            await checks.pool.close()
            await checks.redis.aclose()

    return Litestar(route_handlers=[hello, verify], lifespan=[connections], openapi_config=None)


def main() -> None:
    serve("bench.reference_app:create_app", "the benchmark's hand-written reference app")


if __name__ == "__main__":
    main()
