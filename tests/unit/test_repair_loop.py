"""The repair task: when it repairs, and that nothing it meets can stop it or the app."""

from __future__ import annotations

import logging

import pytest

from revocation.adapters.memory import InMemoryBlacklist, InMemoryTokenLog
from revocation.adapters.mirror_marker import InMemoryMirrorMarker
from revocation.adapters.watched_blacklist import WatchedBlacklist
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistState, TokenKey, TokenRecord
from revocation.domain.ports import TokenLog
from revocation.domain.use_cases.repair_blacklist import RepairBlacklist
from revocation.entrypoints.blacklist_repair import RepairLoop
from tests.fakes import DownTokenLog
from tests.random_refs import random_key, random_user_id
from tests.unit.harness import Harness


class CountingTokenLog(InMemoryTokenLog):
    """Counts full repairs: each one starts a walk with one blocked_after call per page."""

    walks = 0

    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        self.walks += row_id == 0
        return await super().blocked_after(expires_at, row_id, limit)


class SwitchableBlacklist(InMemoryBlacklist):
    """An in-memory blacklist that fails like a down Redis while `down` is set."""

    down = False

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        if self.down:
            raise BlacklistUnavailable("down")
        return await super().lookup(key, user_id)


class BuggyTokenLog(InMemoryTokenLog):
    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        raise RuntimeError("a bug, not an outage")


class Setup:
    def __init__(self, token_log: TokenLog | None = None) -> None:
        self.harness = Harness()
        self.token_log = token_log or CountingTokenLog()
        self.inner = SwitchableBlacklist(self.harness.clock)
        self.watched = WatchedBlacklist(self.inner)
        self.marker = InMemoryMirrorMarker()
        self.loop = RepairLoop(self.repair, self.watched, self.marker, interval=1)

    def repair(self) -> RepairBlacklist:
        return RepairBlacklist(
            token_log=self.token_log,
            blacklist=self.watched,
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

    async def test_repairs_again_after_a_blacklist_failure_it_saw(self) -> None:
        setup = Setup()
        await setup.loop.tick()
        setup.inner.down = True  # a request finds Redis down; the database decides it
        with pytest.raises(BlacklistUnavailable):
            await setup.watched.lookup(random_key(), random_user_id())
        setup.inner.down = False  # back, maybe empty

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


def test_a_lost_tracking_connection_counts_as_a_failure_an_invalidation_does_not() -> None:
    from revocation.adapters.clock import SystemClock

    watched = WatchedBlacklist(InMemoryBlacklist(SystemClock()))
    watched.connection_lost([b"rv{1}w"])
    assert watched.failures == 0
    watched.connection_lost(None)  # dropped, reconnected or flushed: Redis may have lost writes
    assert watched.failures == 1
