"""Start-up and shutdown: the steps the container's wiring needs, entered in order and left in
reverse (what a later step needs, an open pool, outlives it)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Literal

from revocation.adapters.background import AsyncioBackground
from revocation.adapters.piccolo.engines import DatabaseEngine, pool_open
from revocation.adapters.redis.client import RedisClient
from revocation.adapters.redis.cluster import ClusterTracking
from revocation.adapters.redis.tracking import TrackingListener
from revocation.adapters.replay_queue import ReplayQueue, Respond
from revocation.adapters.telemetry import RefusalSummary
from revocation.adapters.throttle_kept import KeepingThrottle
from revocation.domain.ports import AuditTrail, Clock, TokenLog
from revocation.entrypoints.blacklist_repair import RepairLoop
from revocation.entrypoints.periodic import (
    purging,
    purging_audit,
    responding_to_replays,
    summarising,
)
from revocation.entrypoints.settings import Settings

# The fast layer's wiring, as the container chooses it: the in-process blacklist (no Redis), or
# Redis in one of the REVOCATION_CACHE modes: `off` (every check also reads the database),
# `redis` (Redis answers alone while its mirror is complete), `local` (that, from process memory
# kept coherent by tracking).
Wiring = Literal["memory", "off", "redis", "local"]

Step = tuple[str, Callable[[], AbstractAsyncContextManager[Any]]]  # a name, and the step


class Lifespan:
    """Each step is entered in order at start-up and left in reverse at shutdown, so what a
    later step needs (an open pool) outlives it. One per app start: an async context manager."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self._steps = steps
        self._stack = contextlib.AsyncExitStack()

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._steps]

    async def __aenter__(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            for _, step in self._steps:
                await stack.enter_async_context(step())
            self._stack = stack.pop_all()  # a step that failed to start unwinds the others

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(kind, error, traceback)


def service_lifespan(
    settings: Settings,
    wiring: Wiring,
    in_memory: bool,
    *,
    database: Callable[[], DatabaseEngine],
    token_log: Callable[[], TokenLog],
    redis: Callable[[], RedisClient],
    tracking: Callable[[], TrackingListener | ClusterTracking],
    repair_loop: Callable[[], RepairLoop],
    background: Callable[[], AsyncioBackground],
    kept_throttle: Callable[[], KeepingThrottle],
    refusals: Callable[[], RefusalSummary],
    clock: Callable[[], Clock],
    audit_trail: Callable[[], AuditTrail],
    replays: Callable[[], ReplayQueue],
    respond_to_replays: Respond,
) -> Lifespan:
    """What the app's wiring needs started, given as providers: only those used are built."""
    steps: list[Step] = []
    if not in_memory:
        steps.append(("database pool", lambda: pool_open(database())))
    if wiring != "memory":
        steps.append(("redis client", lambda: contextlib.aclosing(redis())))
    if wiring == "local":  # no cached answer until the tracking connection is up
        steps.append(("tracking", lambda: tracking().running()))
    # At shutdown: the work that followed the last answers, while the pools are still open.
    steps.append(("background work", lambda: background().draining()))
    # At shutdown: the brake's kept reservations given back, not left counting in Redis.
    steps.append(("kept brake reservations", lambda: contextlib.aclosing(kept_throttle())))
    if settings.replay_policy != "off":  # alerts (and a policy's logouts) from checks' replays
        steps.append(("replays", lambda: responding_to_replays(replays(), respond_to_replays)))
    if wiring != "memory" and settings.blacklist_repair_interval_seconds > 0:
        steps.append(("blacklist repair", lambda: repair_loop().running()))
    if settings.purge_interval_seconds > 0:
        purge = functools.partial(
            purging,
            interval=settings.purge_interval_seconds,
            leeway=settings.jwt_leeway_seconds,
            batch=settings.purge_batch_size,
        )
        steps.append(("purge", lambda: purge(token_log(), clock())))
        if settings.audit_retention_days > 0:
            purge_audit = functools.partial(
                purging_audit,
                interval=settings.purge_interval_seconds,
                retention_days=settings.audit_retention_days,
                batch=settings.purge_batch_size,
            )
            steps.append(("audit purge", lambda: purge_audit(audit_trail(), clock())))
    interval = settings.refusal_log_interval_seconds
    steps.append(("refusal summaries", lambda: summarising(refusals(), interval=interval)))
    return Lifespan(steps)
