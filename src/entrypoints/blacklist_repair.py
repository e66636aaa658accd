"""The background task that repairs Redis from the database after start-up and after failures.

Every BLACKLIST_REPAIR_INTERVAL_SECONDS it runs RepairBlacklist if none completed yet, if Redis
failed since the last one (a write may be missing, or Redis came back empty), or if the "mirror
complete" marker is gone (Redis restarted or was flushed, even while no request noticed). A
failed repair is retried on the next tick; nothing it raises ever reaches the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from revocation.adapters.redis.client import RedisFailures
from revocation.domain.errors import StorageUnavailable
from revocation.domain.ports import MirrorMarker
from revocation.domain.use_cases.repair_blacklist import RepairBlacklist
from revocation.entrypoints.serving_task import task_while_serving

logger = logging.getLogger(__name__)


class RepairLoop:
    """Repairs when Redis failed or lost its data since the last repair that completed."""

    def __init__(
        self,
        repair: Callable[[], RepairBlacklist],
        failures: RedisFailures,
        marker: MirrorMarker,
        interval: float,
    ) -> None:
        self._repair = repair
        self._failures = failures
        self._marker = marker
        self._interval = interval
        self._repaired_at_failures: int | None = None  # None: never repaired yet

    async def tick(self) -> None:
        failures = self._failures.seen
        if failures == self._repaired_at_failures and await self._marker_intact():
            return
        try:
            report = await self._repair()()
        except StorageUnavailable as error:
            logger.warning("blacklist repair postponed: %s", type(error).__name__)
            return
        except Exception:
            logger.exception("blacklist repair failed")
            return
        if report.complete:
            self._repaired_at_failures = failures  # failures during the repair trigger another
        logger.info(
            "blacklist repaired: %s tokens, %s watermarks, complete: %s",
            report.tokens,
            report.watermarks,
            report.complete,
        )

    async def _marker_intact(self) -> bool:
        try:
            return await self._marker.is_complete()
        except StorageUnavailable:
            return False  # unreachable now: it may come back empty

    async def run_forever(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self._interval)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The loop, while the app serves."""
        async with task_while_serving(self.run_forever(), "blacklist-repair"):
            yield
