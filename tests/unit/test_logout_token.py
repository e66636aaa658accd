from __future__ import annotations

import pytest

from revocation.adapters.memory import InMemoryTokenLog
from revocation.domain.errors import TokenLogUnavailable, TokenRevoked
from tests.fakes import DownBlacklist, DownTokenLog
from tests.revocations import LOGOUT
from tests.unit.harness import LEEWAY, MAX_BLACKLIST_TTL, Harness, bearer


class TestLogoutToken:
    async def test_blocks_the_token_in_the_log_and_the_blacklist(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=3)
        claims = await harness.authenticate()(authorization=bearer(issued.token))
        await harness.logout()(claims=claims, revocation=LOGOUT)
        state = await harness.token_log.lookup(claims.key, 3)
        assert state.record is not None
        assert state.record.blocked_at == harness.clock.now()
        assert (await harness.fast.lookup(claims.key, 3)).token_blocked
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))

    async def test_blacklist_entry_lives_no_longer_than_the_setting(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=3)  # lives an hour, setting is 10 min
        await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
        harness.clock.advance(MAX_BLACKLIST_TTL - 1)
        assert (await harness.fast.lookup(issued.record.key, 3)).token_blocked
        harness.clock.advance(2)
        assert not (await harness.fast.lookup(issued.record.key, 3)).token_blocked

    async def test_blacklist_entry_lives_no_longer_than_the_token_plus_leeway(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=3)
        claims = harness.codec.verify(issued.token)
        remaining = claims.expires_at - harness.clock.now()
        harness.clock.advance(remaining - 100)  # 100 s of life left: entry for 100 + leeway
        await harness.logout()(claims=claims, revocation=LOGOUT)
        harness.clock.advance(100 + LEEWAY - 1)
        assert (await harness.fast.lookup(claims.key, 3)).token_blocked
        harness.clock.advance(2)
        assert not (await harness.fast.lookup(claims.key, 3)).token_blocked

    async def test_succeeds_when_redis_is_down_because_the_log_committed(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=3)
        claims = harness.codec.verify(issued.token)
        harness.blacklist = DownBlacklist()
        await harness.logout()(claims=claims, revocation=LOGOUT)
        state = await harness.token_log.lookup(claims.key, 3)
        assert state.record is not None
        assert state.record.is_blocked

    async def test_fails_without_touching_redis_when_the_log_is_down(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=3)
        claims = harness.codec.verify(issued.token)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await harness.logout()(claims=claims, revocation=LOGOUT)
        assert not (await harness.fast.lookup(claims.key, 3)).token_blocked

    async def test_concurrent_logouts_of_one_token_both_succeed(self) -> None:
        import asyncio

        harness = Harness()
        issued = await harness.issue_token()(user_id=3)
        claims = harness.codec.verify(issued.token)
        await asyncio.gather(
            harness.logout()(claims=claims, revocation=LOGOUT),
            harness.logout()(claims=claims, revocation=LOGOUT),
        )
        assert isinstance(harness.token_log, InMemoryTokenLog)
        state = await harness.token_log.lookup(claims.key, 3)
        assert state.record is not None
        assert state.record.is_blocked
