"""The background task that repairs Redis from the database after start-up and after failures.

It runs RepairBlacklist if none completed yet, if Redis failed since the last one (a write may be
missing, Redis came back empty, or a replica took over), or if the "mirror complete" marker is
gone (Redis restarted or was flushed, even while no request noticed). It looks every
BLACKLIST_REPAIR_INTERVAL_SECONDS, and at once when Redis certainly lost its data (a flush, or
another node behind the tracking connection: a restart or a failover): until a repair completes
there, checks read the database, so waiting for the tick would cost the fast path for up to a
whole interval. Not at once for a timeout or a refused connection: under load those come in
bursts, and a repair (which distrusts every bucket while it runs) would then feed the load that
caused them. A repair that could not run is retried after 1 s, then 2, 4... up to the interval.
Nothing it raises ever reaches the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from revocation.adapters.redis.client import RedisFailures
from revocation.adapters.serving_task import task_while_serving
from revocation.domain.errors import StorageUnavailable
from revocation.domain.ports import MirrorMarker
from revocation.domain.use_cases.repair_blacklist import RepairBlacklist

logger = logging.getLogger(__name__)


class RepairLoop:
    """Repairs when Redis failed or lost its data since the last repair that completed."""

    def __init__(
        self,
        repair: Callable[[], RepairBlacklist],
        failures: RedisFailures,
        marker: MirrorMarker,
        interval: float,
        *,
        first_retry_seconds: float = 1.0,
    ) -> None:
        self._repair = repair
        self._failures = failures
        self._marker = marker
        self._interval = interval
        self._first_retry = min(first_retry_seconds, interval)
        self._repaired_at_failures: int | None = None  # None: never repaired yet

    async def tick(self) -> bool:
        """Repair if needed; False when a needed repair could not run (retry soon)."""
        failures = self._failures.seen
        if failures == self._repaired_at_failures and await self._marker_intact():
            return True
        try:
            report = await self._repair()()
        except StorageUnavailable as error:
            logger.warning("blacklist repair postponed: %s", type(error).__name__)
            return False
        except Exception:
            logger.exception("blacklist repair failed")
            return False
        if report.complete:
            self._repaired_at_failures = failures  # failures during the repair trigger another
        logger.info(
            "blacklist repaired: %s tokens, %s watermarks, complete: %s",
            report.tokens,
            report.watermarks,
            report.complete,
        )
        return report.complete

    async def _marker_intact(self) -> bool:
        try:
            return await self._marker.is_complete()
        except StorageUnavailable:
            return False  # unreachable now: it may come back empty

    async def run_forever(self) -> None:
        gap = self._first_retry
        while True:
            if await self.tick():
                gap = self._first_retry
                await asyncio.sleep(gap)  # at most one attempt per gap, however many losses
                await self._failures.next_data_loss(within=self._interval - gap)
            else:  # the fast path stays off until a repair runs: retry, backing off
                await asyncio.sleep(gap)
                gap = min(2 * gap, self._interval)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The loop, while the app serves."""
        async with task_while_serving(self.run_forever(), "blacklist-repair"):
            yield
