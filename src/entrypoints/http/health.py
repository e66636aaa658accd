"""`/health/live` (the process answers) and `/health/ready` (its storage answers, in time)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import msgspec
from litestar import Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec

from revocation.domain.errors import StorageUnavailable
from revocation.domain.model import MAX_USER_ID, BlacklistState, TokenKey
from revocation.domain.ports import Blacklist, TokenLog

logger = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 1.0  # a probe that waits longer than this is "not ready" anyway
# A key no token carries: reading it exercises the same query as a real check, changes nothing.
PROBE_KEY = TokenKey(issuer="health-probe", jti="readiness-probe")
OK, UNAVAILABLE = "ok", "unavailable"
ON, OFF = "on", "off"


class ReadyBody(msgspec.Struct, frozen=True):
    status: str  # "ready" or "degraded" (the blacklist is down: checks fall back to the database)
    checks: dict[str, str]


class NotReadyBody(msgspec.Struct, frozen=True):
    title: str  # the error map's shape: {"title": "Service Unavailable", ...}
    checks: dict[str, str]


class ReadinessProbe:
    """Reads a probe key through the ports, so it works with whichever adapters are wired."""

    def __init__(
        self,
        *,
        token_log: Callable[[], TokenLog],
        blacklist: Callable[[], Blacklist],
        timeout_seconds: float = READY_TIMEOUT_SECONDS,
    ) -> None:
        self._token_log = token_log  # providers, called per check: engines are built at start-up
        self._blacklist = blacklist
        self._timeout = timeout_seconds

    async def __call__(self) -> dict[str, str]:
        """Each store's state, and whether the fast layer answers checks alone now (`fast_path`:
        off without a cache, and after a Redis restart or failover until a repair completes)."""
        (database, _), (blacklist, state) = await asyncio.gather(
            self._check("database", lambda: self._token_log().lookup(PROBE_KEY, MAX_USER_ID)),
            self._check("blacklist", lambda: self._blacklist().lookup(PROBE_KEY, MAX_USER_ID)),
        )
        fast_path = ON if isinstance(state, BlacklistState) and state.complete else OFF
        return {"database": database, "blacklist": blacklist, "fast_path": fast_path}

    async def _check(self, name: str, read: Callable[[], Awaitable[object]]) -> tuple[str, object]:
        try:
            async with asyncio.timeout(self._timeout):
                answer = await read()
        except (StorageUnavailable, TimeoutError) as error:
            logger.warning("readiness check failed: %s (%s)", name, type(error).__name__)
            return UNAVAILABLE, None
        return OK, answer


@get("/live", tags=["health"])
async def live() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@get(
    "/ready",
    tags=["health"],
    responses={503: ResponseSpec(NotReadyBody, description="The database cannot answer")},
)
async def ready(probe: NamedDependency[ReadinessProbe]) -> Response[ReadyBody | NotReadyBody]:
    """The database answers (else 503). A Redis outage only degrades: the database decides."""
    checks = await probe()
    if checks["database"] != OK:
        return Response(NotReadyBody("Service Unavailable", checks), status_code=503)
    status = "ready" if checks["blacklist"] == OK else "degraded"
    return Response(ReadyBody(status, checks), status_code=200)


def health_router(probe: ReadinessProbe) -> Router:
    return Router(
        path="/health",
        route_handlers=[live, ready],
        dependencies={"probe": Provide(lambda: probe, sync_to_thread=False)},
    )
