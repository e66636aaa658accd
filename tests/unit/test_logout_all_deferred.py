"""Logout-all with a background: it answers on the watermark alone, rows are blocked after."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest

from revocation.adapters.background import AsyncioBackground
from revocation.adapters.memory import InMemoryTokenLog
from revocation.domain.errors import TokenLogUnavailable, TokenRevoked
from revocation.domain.model import Watermark
from tests.fakes import DownBlacklist, DownTokenLog, ManualBackground
from tests.revocations import LOGOUT_ALL
from tests.unit.harness import Harness, bearer


async def is_dead(harness: Harness, token: str) -> bool:
    try:
        await harness.authenticate()(authorization=bearer(token))
    except TokenRevoked:
        return True
    return False


class TestDeferredLogoutAll:
    async def test_every_old_token_is_dead_before_any_row_is_blocked(self) -> None:
        harness, background = Harness(), ManualBackground()
        harness.clock.set(math.floor(harness.clock.now()) + 0.5)
        old = [await harness.issue_token()(user_id=1) for _ in range(3)]
        harness.clock.advance(0.2)  # one token shares the watermark's second: only the log knows
        await harness.logout_all(background)(user_id=1, revocation=LOGOUT_ALL)
        assert len(background.queued) == 1
        for issued in old:
            state = await harness.token_log.lookup(issued.record.key, 1)
            assert state.record is not None
            assert not state.record.is_blocked
            assert await is_dead(harness, issued.token)

    async def test_the_background_blocks_every_old_row_and_redis_holds_the_watermark(self) -> None:
        harness, background = Harness(), ManualBackground()
        old = [await harness.issue_token()(user_id=1) for _ in range(3)]
        theirs = await harness.issue_token()(user_id=2)
        harness.clock.advance(1)
        await harness.logout_all(background)(user_id=1, revocation=LOGOUT_ALL)
        harness.clock.advance(0.001)
        after = await harness.issue_token()(user_id=1)
        await background.finish()
        for issued in old:
            state = await harness.token_log.lookup(issued.record.key, 1)
            assert state.record is not None
            assert state.record.is_blocked
            # In Redis the watermark is every old token's entry; none gets one of its own.
            in_redis = await harness.fast.lookup(issued.record.key, 1)
            assert in_redis.watermark is not None
            assert in_redis.watermark.kills_issued_at(issued.record.issued_at)
            assert not in_redis.token_blocked
        assert not await is_dead(harness, after.token)
        assert not await is_dead(harness, theirs.token)

    async def test_redis_alone_rejects_an_older_token_right_away(self) -> None:
        harness, background = Harness(), ManualBackground()
        issued = await harness.issue_token()(user_id=1)
        harness.clock.advance(2)
        await harness.logout_all(background)(user_id=1, revocation=LOGOUT_ALL)
        harness.token_log = DownTokenLog()
        assert await is_dead(harness, issued.token)

    async def test_a_log_outage_fails_it_before_redis_or_the_background(self) -> None:
        harness, background = Harness(), ManualBackground()
        issued = await harness.issue_token()(user_id=1)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await harness.logout_all(background)(user_id=1, revocation=LOGOUT_ALL)
        assert background.queued == []
        assert (await harness.fast.lookup(issued.record.key, 1)).watermark is None

    async def test_a_redis_outage_still_answers_on_the_committed_watermark(self) -> None:
        harness, background = Harness(blacklist=DownBlacklist()), ManualBackground()
        issued = await harness.issue_token()(user_id=1)
        harness.clock.advance(1)
        await harness.logout_all(background)(user_id=1, revocation=LOGOUT_ALL)
        assert await is_dead(harness, issued.token)
        assert ("blacklist_unavailable", {"operation": "logout_all"}) in harness.telemetry.events


class TestAsyncioBackground:
    async def test_drain_waits_for_the_work(self) -> None:
        background, done = AsyncioBackground(), asyncio.Event()

        async def work() -> None:
            await asyncio.sleep(0.01)
            done.set()

        background.run("work", work)
        await background.drain()
        assert done.is_set()

    async def test_a_failure_is_logged_not_raised(self, caplog: pytest.LogCaptureFixture) -> None:
        background, log = AsyncioBackground(), InMemoryTokenLog()

        async def failing() -> None:
            await log.raise_watermark(Watermark(1, 1.0), LOGOUT_ALL)
            raise TokenLogUnavailable("down")

        with caplog.at_level(logging.ERROR):
            background.run("failing", failing)
            await background.drain()
        assert "background work failing failed" in caplog.text
