"""The server's own cleanup: every PURGE_INTERVAL_SECONDS, delete expired token-log rows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar

from revocation.domain.errors import StorageUnavailable
from revocation.domain.ports import Clock, TokenLog
from revocation.entrypoints.containers import Container
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
    token_log: Callable[[], TokenLog], clock: Clock, *, interval: float, leeway: float, batch: int
) -> None:
    """Purge after each interval; a failed round is logged and the next one tries again."""
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await purge_once(token_log(), clock, leeway=leeway, batch_size=batch)
        except StorageUnavailable as error:
            logger.warning("periodic purge skipped: %s", type(error).__name__)
        except Exception:
            # A bug here must not end the loop (nor the app); it is logged with its trace.
            logger.exception("periodic purge failed")
        else:
            logger.info("expired token logs purged", extra={"event": "purge", "rows": removed})


def refusal_summaries(
    container: Container,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan hook writing the refused-token summary every interval, and once at shutdown,
    so a quiet process still reports the last interval's refusals."""

    @asynccontextmanager
    async def run(_: Litestar) -> AsyncIterator[None]:
        summary = container.refusal_summary()
        interval = container.settings().refusal_log_interval_seconds

        async def flush_forever() -> None:
            while True:
                await asyncio.sleep(interval)
                summary.flush()

        try:
            async with task_while_serving(flush_forever(), "refusal-summaries"):
                yield
        finally:
            summary.flush()

    return run


def periodic_purge(container: Container) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan hook running `purge_forever` while the app serves, when enabled."""

    @asynccontextmanager
    async def run(_: Litestar) -> AsyncIterator[None]:
        settings = container.settings()
        if settings.purge_interval_seconds <= 0:
            yield
            return
        purge = purge_forever(
            container.token_log,
            container.clock(),
            interval=settings.purge_interval_seconds,
            leeway=settings.jwt_leeway_seconds,
            batch=settings.purge_batch_size,
        )
        async with task_while_serving(purge, "periodic-purge"):
            yield

    return run
