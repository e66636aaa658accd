from __future__ import annotations

import math

import pytest

from revocation.domain.errors import TokenLogUnavailable, TokenRevoked
from revocation.domain.model import Claims, TokenKey
from tests.fakes import DownBlacklist, DownTokenLog
from tests.revocations import LOGOUT_ALL
from tests.unit.harness import Harness, bearer


async def authenticates(harness: Harness, token: str) -> bool:
    try:
        await harness.authenticate()(authorization=bearer(token))
    except TokenRevoked:
        return False
    return True


def at_fraction(harness: Harness, fraction: float) -> None:
    """Move the clock to `fraction` of the way through the current whole second."""
    harness.clock.set(math.floor(harness.clock.now()) + fraction)


class TestLogoutAllDevices:
    async def test_blocks_every_active_token_of_the_user_and_no_one_else(self) -> None:
        harness = Harness()
        mine = [await harness.issue_token()(user_id=1) for _ in range(3)]
        theirs = await harness.issue_token()(user_id=2)
        harness.clock.advance(1)
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        await harness.background.finish()  # after the response: the rows
        for issued in mine:
            assert not await authenticates(harness, issued.token)
            state = await harness.token_log.lookup(issued.record.key, 1)
            assert state.record is not None
            assert state.record.is_blocked
        assert await authenticates(harness, theirs.token)

    async def test_a_login_in_the_same_second_right_after_it_works(self) -> None:
        harness = Harness()
        at_fraction(harness, 0.2)
        before = await harness.issue_token()(user_id=1)
        harness.clock.advance(0.3)  # same whole second
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        harness.clock.advance(0.001)
        after = await harness.issue_token()(user_id=1)
        assert (
            harness.codec.verify(before.token).issued_at
            == harness.codec.verify(after.token).issued_at
        )
        assert not await authenticates(harness, before.token)
        assert await authenticates(harness, after.token)

    async def test_a_login_in_the_same_second_works_while_redis_is_down(self) -> None:
        harness = Harness(blacklist=DownBlacklist())
        at_fraction(harness, 0.1)
        before = await harness.issue_token()(user_id=1)
        harness.clock.advance(0.1)
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        harness.clock.advance(0.1)
        after = await harness.issue_token()(user_id=1)
        assert not await authenticates(harness, before.token)
        assert await authenticates(harness, after.token)

    async def test_kills_tokens_it_cannot_list_in_not_blocked_mode(self) -> None:
        harness = Harness(require_logged=False)
        at_fraction(harness, 0.5)
        second = math.floor(harness.clock.now())
        unlisted = [self.foreign(harness, 1, iat) for iat in (second - 30, second)]
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        for token in unlisted:  # even the one sharing the watermark's second
            assert not await authenticates(harness, token)
        harness.clock.advance(1)
        assert await authenticates(harness, self.foreign(harness, 1, second + 1))

    async def test_redis_watermark_rejects_before_the_log_is_asked(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        harness.clock.advance(2)
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))

    async def test_sets_the_watermark_for_a_user_with_no_tokens(self) -> None:
        harness = Harness(require_logged=False)
        token = self.foreign(harness, 77, math.floor(harness.clock.now()) - 5)
        await harness.logout_all()(user_id=77, revocation=LOGOUT_ALL)
        assert not await authenticates(harness, token)

    async def test_fails_when_the_log_is_down_and_writes_nothing_to_redis(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        state = await harness.fast.lookup(issued.record.key, 1)
        assert not state.token_blocked
        assert state.watermark is None

    @staticmethod
    def foreign(harness: Harness, user_id: int, iat: int) -> str:
        claims = Claims(TokenKey("unit-tests", f"foreign-{iat}"), user_id, iat, iat + 600)
        return harness.codec.encode(claims)
