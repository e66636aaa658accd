"""The server's own cleanup: batches until done, on a timer, and never dies of a failure."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from revocation.adapters.clock import ManualClock, SystemClock
from revocation.adapters.memory import InMemoryTokenLog
from revocation.domain.errors import TokenLogUnavailable
from revocation.domain.model import TokenRecord
from revocation.entrypoints.app import create_app
from revocation.entrypoints.periodic import purge_audit_once, purge_forever, purge_once
from tests.app_factory import in_memory_container
from tests.random_refs import random_key
from tests.revocations import LOGOUT_ALL

LEEWAY = 10


async def log_tokens(token_log: InMemoryTokenLog, *expiries: float) -> list[TokenRecord]:
    records = [TokenRecord(random_key(), 1, issued_at=0, expires_at=exp) for exp in expiries]
    for record in records:
        await token_log.record(record)
    return records


async def still_logged(token_log: InMemoryTokenLog, records: list[TokenRecord]) -> list[bool]:
    return [(await token_log.lookup(r.key, r.user_id)).record is not None for r in records]


class FlakyTokenLog(InMemoryTokenLog):
    """Fails its first purges (a database blip, then a bug), then works."""

    def __init__(self, failures: list[Exception]) -> None:
        super().__init__()
        self.failures = failures

    async def purge_expired(self, before: float, batch_size: int) -> int:
        if self.failures:
            raise self.failures.pop(0)
        return await super().purge_expired(before, batch_size)


async def eventually(
    read: Callable[[], Awaitable[list[bool]]], expected: list[bool], *, seconds: float
) -> None:
    for _ in range(int(seconds / 0.02)):
        if await read() == expected:
            return
        await asyncio.sleep(0.02)
    assert await read() == expected


def purge_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if "purge_forever" in repr(t.get_coro())]


class TestPurgeOnce:
    async def test_deletes_every_row_expired_beyond_the_leeway_in_batches(self) -> None:
        clock, token_log = ManualClock(start=1000), InMemoryTokenLog()
        expired = await log_tokens(token_log, *[900] * 5)
        kept = await log_tokens(token_log, 995, 2000)  # within the leeway; live
        removed = await purge_once(token_log, clock, leeway=LEEWAY, batch_size=2)
        assert removed == 5
        assert await still_logged(token_log, expired) == [False] * 5
        assert await still_logged(token_log, kept) == [True, True]


class TestPurgeForever:
    async def test_a_failed_round_is_logged_and_the_next_one_purges(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        token_log = FlakyTokenLog([TokenLogUnavailable("down"), RuntimeError("bug")])
        records = await log_tokens(token_log, 1.0)
        task = asyncio.create_task(
            purge_forever(token_log, SystemClock(), interval=0.01, leeway=0, batch=10)
        )
        try:
            await eventually(lambda: still_logged(token_log, records), [False], seconds=2)
            assert not task.done()
        finally:
            task.cancel()
        messages = [r.getMessage() for r in caplog.records]
        assert "periodic purge skipped: TokenLogUnavailable" in messages
        assert "periodic purge failed" in messages


class TestServerRunsIt:
    async def test_the_app_purges_on_its_interval(self, caplog: pytest.LogCaptureFixture) -> None:
        container = in_memory_container(PURGE_INTERVAL_SECONDS="1", PURGE_BATCH_SIZE="2")
        token_log = InMemoryTokenLog()
        container.token_log.override(providers.Object(token_log))
        expired = await log_tokens(token_log, *[time.time() - 3600] * 3)
        live = await log_tokens(token_log, time.time() + 3600)
        with caplog.at_level(logging.INFO, logger="revocation.entrypoints.periodic"):
            async with AsyncTestClient(app=create_app(container)):
                await eventually(lambda: still_logged(token_log, expired), [False] * 3, seconds=5)
        assert await still_logged(token_log, live) == [True]
        [purged] = [r for r in caplog.records if getattr(r, "event", None) == "purge"]
        assert getattr(purged, "rows", None) == 3

    @pytest.mark.parametrize(("interval", "tasks"), [("0", 0), ("60", 1)])
    async def test_runs_only_when_enabled_and_stops_with_the_app(
        self, interval: str, tasks: int
    ) -> None:
        container = in_memory_container(PURGE_INTERVAL_SECONDS=interval)
        async with container.lifespan():
            assert len(purge_tasks()) == tasks
        assert purge_tasks() == []


DAY = 86_400.0


def audit(token_log: InMemoryTokenLog, *times: float) -> None:
    for at in times:
        token_log.audit_trail.append(7, at, None, LOGOUT_ALL, None)


async def audit_times(token_log: InMemoryTokenLog) -> list[float]:
    records = await token_log.audit_trail.history(7, before_id=None, limit=100)
    return sorted(record.revoked_at for record in records)


class TestAuditPurge:
    async def test_deletes_records_older_than_the_retention_in_batches(self) -> None:
        clock, token_log = ManualClock(start=10 * DAY), InMemoryTokenLog()
        audit(token_log, 1 * DAY, 2 * DAY, 3 * DAY, 9 * DAY + 1, 10 * DAY)

        removed = await purge_audit_once(
            token_log.audit_trail, clock, retention_days=1, batch_size=2
        )

        assert removed == 3
        assert await audit_times(token_log) == [9 * DAY + 1, 10 * DAY]

    async def test_the_app_purges_old_records_on_the_purge_interval(self) -> None:
        env = {"PURGE_INTERVAL_SECONDS": "1", "AUDIT_RETENTION_DAYS": "1"}
        container = in_memory_container(**env)
        token_log = InMemoryTokenLog()
        container.token_log.override(providers.Object(token_log))
        audit(token_log, time.time() - 2 * DAY, time.time())

        async with AsyncTestClient(app=create_app(container)):

            async def kept() -> list[bool]:
                return [at > time.time() - DAY for at in await audit_times(token_log)]

            await eventually(kept, [True], seconds=5)
