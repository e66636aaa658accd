"""The repair task: when it repairs, and that nothing it meets can stop it or the app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from revocation.adapters.memory import InMemoryBlacklist, InMemoryMirrorMarker, InMemoryTokenLog
from revocation.adapters.redis.client import RedisFailures
from revocation.domain.errors import TokenLogUnavailable
from revocation.domain.model import TokenRecord
from revocation.domain.ports import TokenLog
from revocation.domain.use_cases.repair_blacklist import RepairBlacklist
from revocation.entrypoints.blacklist_repair import RepairLoop
from tests.fakes import DownTokenLog
from tests.unit.harness import Harness


class CountingTokenLog(InMemoryTokenLog):
    """Counts full repairs: each one starts a walk with one blocked_after call per page."""

    walks = 0

    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        self.walks += row_id == 0
        return await super().blocked_after(expires_at, row_id, limit)


class FlakyTokenLog(CountingTokenLog):
    """Unreachable while `down`."""

    down = False

    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        if self.down:
            raise TokenLogUnavailable("down")
        return await super().blocked_after(expires_at, row_id, limit)


class BuggyTokenLog(InMemoryTokenLog):
    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        raise RuntimeError("a bug, not an outage")


class Setup:
    def __init__(self, token_log: TokenLog | None = None) -> None:
        self.harness = Harness()
        self.token_log = token_log or CountingTokenLog()
        self.blacklist = InMemoryBlacklist(self.harness.clock)
        self.failures = RedisFailures()
        self.marker = InMemoryMirrorMarker()
        self.loop = RepairLoop(self.repair, self.failures, self.marker, interval=1)

    def repair(self) -> RepairBlacklist:
        return RepairBlacklist(
            token_log=self.token_log,
            blacklist=self.blacklist,
            marker=self.marker,
            clock=self.harness.clock,
            policy=self.harness.policy,
        )

    @property
    def walks(self) -> int:
        assert isinstance(self.token_log, CountingTokenLog)
        return self.token_log.walks


class TestRepairLoop:
    async def test_repairs_once_at_start_up_then_only_when_needed(self) -> None:
        setup = Setup()

        await setup.loop.tick()
        await setup.loop.tick()

        assert setup.walks == 1

    async def test_repairs_again_after_redis_failed(self) -> None:
        setup = Setup()
        await setup.loop.tick()
        setup.failures.note()  # a request found Redis down; it may come back empty

        await setup.loop.tick()
        await setup.loop.tick()

        assert setup.walks == 2

    async def test_repairs_again_when_the_marker_is_gone(self) -> None:
        setup = Setup()
        await setup.loop.tick()
        setup.marker.reset()  # Redis restarted while nobody called it

        await setup.loop.tick()
        await setup.loop.tick()

        assert setup.walks == 2

    @pytest.mark.parametrize("token_log", [DownTokenLog(), BuggyTokenLog()], ids=["down", "bug"])
    async def test_never_raises_and_retries_on_the_next_tick(
        self, token_log: TokenLog, caplog: pytest.LogCaptureFixture
    ) -> None:
        setup = Setup(token_log=token_log)

        with caplog.at_level(logging.WARNING, logger="revocation.entrypoints.blacklist_repair"):
            await setup.loop.tick()
            await setup.loop.tick()

        assert len(caplog.records) == 2
        assert not await setup.marker.is_complete()


class TestRunningLoop:
    def loop(self, setup: Setup, repair: Callable[[], RepairBlacklist], interval: float) -> None:
        setup.loop = RepairLoop(
            repair, setup.failures, setup.marker, interval=interval, first_retry_seconds=0.01
        )

    async def test_a_data_loss_wakes_it_before_the_interval(self) -> None:
        setup = Setup()
        self.loop(setup, setup.repair, interval=30)
        async with setup.loop.running():
            await until(lambda: setup.walks == 1)
            setup.failures.note()  # a failover: the fast path is off until a repair
            setup.failures.note_data_lost()

            await until(lambda: setup.walks == 2)  # not 30 s later

    async def test_a_repair_that_could_not_run_is_retried_soon_not_at_the_tick(self) -> None:
        log = FlakyTokenLog()
        setup = Setup(token_log=log)
        self.loop(setup, setup.repair, interval=30)
        async with setup.loop.running():
            await until(lambda: setup.walks == 1)
            log.down = True  # a failover: the first repair meets the database unreachable too
            setup.failures.note()
            setup.failures.note_data_lost()
            await asyncio.sleep(0.05)
            log.down = False

            await until(lambda: setup.walks == 2)  # a retry within the backoff, not 30 s later

    async def test_a_timeout_waits_for_the_tick(self) -> None:
        setup = Setup()
        self.loop(setup, setup.repair, interval=30)
        async with setup.loop.running():
            await until(lambda: setup.walks == 1)
            for _ in range(20):  # timeouts under load: a repair now would add to the load
                setup.failures.note()
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.1)

        assert setup.walks == 1

    async def test_backs_off_while_repairs_cannot_run(self) -> None:
        setup = Setup(token_log=DownTokenLog())
        attempts = 0
        repair = setup.repair

        def counted() -> RepairBlacklist:
            nonlocal attempts
            attempts += 1
            return repair()

        self.loop(setup, counted, interval=0.32)
        async with setup.loop.running():
            for _ in range(80):  # Redis keeps coming back empty meanwhile
                setup.failures.note()
                setup.failures.note_data_lost()
                await asyncio.sleep(0.005)

        assert 3 <= attempts <= 7  # 1, 2, 4, 8, 16, 32 hundredths apart; not one per loss


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    for _ in range(int(within / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never happened")
