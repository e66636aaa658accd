"""The background task that repairs Redis from the database after start-up and after failures.

Every BLACKLIST_REPAIR_INTERVAL_SECONDS it runs RepairBlacklist if Redis failed since the last
successful repair (or none succeeded yet). A failed repair is retried on the next tick; nothing
it raises ever reaches the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from adapters.watched_blacklist import WatchedBlacklist
from domain.errors import StorageUnavailable
from domain.use_cases.repair_blacklist import RepairBlacklist
from entrypoints.containers import Container

logger = logging.getLogger(__name__)


class RepairLoop:
    """Repairs when `watched` counted a failure since the last repair that succeeded."""

    def __init__(
        self, repair: Callable[[], RepairBlacklist], watched: WatchedBlacklist, interval: float
    ) -> None:
        self._repair = repair
        self._watched = watched
        self._interval = interval
        self._repaired_at_failures: int | None = None  # None: never repaired yet

    async def tick(self) -> None:
        failures = self._watched.failures
        if failures == self._repaired_at_failures:
            return
        try:
            report = await self._repair()()
        except StorageUnavailable as error:
            logger.warning("blacklist repair postponed: %s", type(error).__name__)
            return
        except Exception:
            logger.exception("blacklist repair failed")
            return
        self._repaired_at_failures = failures  # failures during the repair trigger another
        logger.info(
            "blacklist repaired: %s tokens, %s watermarks", report.tokens, report.watermarks
        )

    async def run_forever(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self._interval)


def blacklist_repair(
    container: Container,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan hook running the repair loop while the app serves, when Redis is watched."""

    @contextlib.asynccontextmanager
    async def run(_: Litestar) -> AsyncIterator[None]:
        interval = container.settings().blacklist_repair_interval_seconds
        watched = None if container.blacklist.overridden else container.blacklist()
        if interval <= 0 or not isinstance(watched, WatchedBlacklist):
            yield  # off, or an in-process blacklist that never loses a write
            return
        loop = RepairLoop(container.repair_blacklist, watched, interval)
        task = asyncio.create_task(loop.run_forever(), name="blacklist-repair")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return run
