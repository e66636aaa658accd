"""The server's own periodic work: deleting expired token-log rows and old audit records,
summarising refusals, responding to replays."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from revocation.adapters.replay_queue import ReplayQueue, Respond
from revocation.adapters.serving_task import task_while_serving
from revocation.adapters.telemetry import RefusalSummary
from revocation.domain.errors import StorageUnavailable
from revocation.domain.ports import AuditTrail, Clock, TokenLog

logger = logging.getLogger(__name__)


async def purge_once(
    token_log: TokenLog,
    clock: Clock,
    *,
    leeway: float,
    batch_size: int,
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Delete every row expired beyond the leeway, in batches; how many went.

    `progress` is told the running total after each batch.
    """
    before = clock.now() - leeway
    total = 0
    while removed := await token_log.purge_expired(before, batch_size):
        total += removed
        progress(total)
        await asyncio.sleep(0)  # let requests run between batches
    return total


async def purge_audit_once(
    audit_trail: AuditTrail, clock: Clock, *, retention_days: int, batch_size: int
) -> int:
    """Delete every audit record older than the retention, in batches; how many went."""
    before = clock.now() - retention_days * 86_400
    total = 0
    while removed := await audit_trail.purge_before(before, batch_size):
        total += removed
        await asyncio.sleep(0)  # let requests run between batches
    return total


async def purge_forever(
    token_log: TokenLog, clock: Clock, *, interval: float, leeway: float, batch: int
) -> None:
    """Purge after each interval; a failed round is logged and the next one tries again."""

    async def purge() -> int:
        return await purge_once(token_log, clock, leeway=leeway, batch_size=batch)

    await _forever(purge, interval, "expired token logs purged", "purge")


async def _forever(
    work: Callable[[], Awaitable[int]], interval: float, done: str, event: str
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await work()
        except StorageUnavailable as error:
            logger.warning("periodic %s skipped: %s", event, type(error).__name__)
        except Exception:
            # A bug here must not end the loop (nor the app); it is logged with its trace.
            logger.exception("periodic %s failed", event)
        else:
            logger.info(done, extra={"event": event, "rows": removed})


@contextlib.asynccontextmanager
async def purging(
    token_log: TokenLog, clock: Clock, *, interval: float, leeway: float, batch: int
) -> AsyncIterator[None]:
    """The periodic purge, while the app serves (PURGE_INTERVAL_SECONDS > 0)."""
    loop = purge_forever(token_log, clock, interval=interval, leeway=leeway, batch=batch)
    async with task_while_serving(loop, "periodic-purge"):
        yield


@contextlib.asynccontextmanager
async def purging_audit(
    audit_trail: AuditTrail, clock: Clock, *, interval: float, retention_days: int, batch: int
) -> AsyncIterator[None]:
    """The audit trail's periodic purge, on the token log's schedule, with its own retention."""

    async def purge() -> int:
        return await purge_audit_once(
            audit_trail, clock, retention_days=retention_days, batch_size=batch
        )

    loop = _forever(purge, interval, "old audit records purged", "audit_purge")
    async with task_while_serving(loop, "periodic-audit-purge"):
        yield


@contextlib.asynccontextmanager
async def responding_to_replays(queue: ReplayQueue, respond: Respond) -> AsyncIterator[None]:
    """The replay watch's rounds, off the request path, while the app serves."""
    async with task_while_serving(queue.respond_forever(respond), "replay-rounds"):
        yield


@contextlib.asynccontextmanager
async def summarising(summary: RefusalSummary, *, interval: float) -> AsyncIterator[None]:
    """The refused-token summary written every interval while the app serves, and once at
    shutdown, so a quiet process still reports its last interval's refusals."""

    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(interval)
            summary.flush()

    try:
        async with task_while_serving(flush_forever(), "refusal-summaries"):
            yield
    finally:
        summary.flush()
