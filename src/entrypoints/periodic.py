"""The server's own periodic work: deleting expired token-log rows, summarising refusals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from revocation.adapters.telemetry import RefusalSummary
from revocation.domain.errors import StorageUnavailable
from revocation.domain.ports import Clock, TokenLog
from revocation.entrypoints.serving_task import task_while_serving

logger = logging.getLogger(__name__)


async def purge_once(token_log: TokenLog, clock: Clock, *, leeway: float, batch_size: int) -> int:
    """Delete every row expired beyond the leeway, in batches; how many went."""
    before = clock.now() - leeway
    total = 0
    while removed := await token_log.purge_expired(before, batch_size):
        total += removed
        await asyncio.sleep(0)  # let requests run between batches
    return total


async def purge_forever(
    token_log: TokenLog, clock: Clock, *, interval: float, leeway: float, batch: int
) -> None:
    """Purge after each interval; a failed round is logged and the next one tries again."""
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await purge_once(token_log, clock, leeway=leeway, batch_size=batch)
        except StorageUnavailable as error:
            logger.warning("periodic purge skipped: %s", type(error).__name__)
        except Exception:
            # A bug here must not end the loop (nor the app); it is logged with its trace.
            logger.exception("periodic purge failed")
        else:
            logger.info("expired token logs purged", extra={"event": "purge", "rows": removed})


@contextlib.asynccontextmanager
async def purging(
    token_log: TokenLog, clock: Clock, *, interval: float, leeway: float, batch: int
) -> AsyncIterator[None]:
    """The periodic purge, while the app serves (PURGE_INTERVAL_SECONDS > 0)."""
    loop = purge_forever(token_log, clock, interval=interval, leeway=leeway, batch=batch)
    async with task_while_serving(loop, "periodic-purge"):
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
