"""The fast layer's logged marks: a token known logged there needs no database read, and a
mark never lets a revoked, unlogged or another user's token in."""

from __future__ import annotations

import pytest

from revocation.domain.errors import (
    RevocationNotMirrored,
    TokenLogUnavailable,
    TokenNotLogged,
    TokenRevoked,
)
from revocation.domain.logged_tokens import LoggedTokens
from revocation.domain.model import Claims, TokenKey, TokenRecord
from revocation.domain.policy import BlacklistPolicy
from tests.fakes import DownBlacklist, DownTokenLog
from tests.revocations import LOGOUT, LOGOUT_ALL
from tests.unit.harness import LEEWAY, Harness, bearer


def mirrored() -> Harness:
    return Harness(redis_answers_alone=True)


async def check(harness: Harness, token: str) -> Claims:
    return await harness.authenticate()(authorization=bearer(token))


def another_process(harness: Harness) -> None:
    """Same Redis, a fresh process: nothing learnt in memory."""
    harness.logged_tokens = LoggedTokens(leeway_seconds=LEEWAY)


async def logged_elsewhere(harness: Harness, user_id: int, jti: str) -> str:
    """A token another service logged: this one never issued it."""
    now = int(harness.clock.now())
    await harness.token_log.record(
        TokenRecord(TokenKey("unit-tests", jti), user_id, now, now + 600)
    )
    return harness.codec.encode(Claims(TokenKey("unit-tests", jti), user_id, now, now + 600))


class TestLoggedMarks:
    async def test_a_token_issued_here_never_needs_the_log(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        harness.token_log = DownTokenLog()
        another_process(harness)
        assert (await check(harness, issued.token)).user_id == 1

    async def test_a_token_the_log_showed_logged_needs_it_on_no_other_process(self) -> None:
        harness = mirrored()
        token = await logged_elsewhere(harness, 2, "seen-once")
        await check(harness, token)  # read from the log, then marked in the fast layer
        harness.token_log = DownTokenLog()
        another_process(harness)
        assert (await check(harness, token)).user_id == 2

    async def test_a_marked_token_logged_out_is_refused(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
        harness.token_log = DownTokenLog()
        another_process(harness)
        with pytest.raises(TokenRevoked):
            await check(harness, issued.token)

    async def test_a_marked_token_older_than_its_users_logout_all_is_refused(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        harness.clock.advance(0.3)  # the same second: only the precise issue time decides
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        harness.token_log = DownTokenLog()
        another_process(harness)
        with pytest.raises(TokenRevoked):
            await check(harness, issued.token)

    async def test_another_users_token_with_a_marked_pair_asks_the_log(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        key, now = issued.record.key, int(harness.clock.now())
        impostor = harness.codec.encode(Claims(key, 9, now, now + 600))  # same pair, other sub
        with pytest.raises(TokenNotLogged):
            await check(harness, impostor)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await check(harness, impostor)

    async def test_an_incomplete_mirror_asks_the_log_whatever_it_marks(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        harness.fast.complete = False  # type: ignore[attr-defined] # Redis restarted empty
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await check(harness, issued.token)

    async def test_without_the_mode_nothing_is_marked(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        await check(harness, issued.token)
        assert (await harness.fast.lookup(issued.record.key, 1)).logged is None

    async def test_a_failed_mark_fails_neither_issuance_nor_the_check(self) -> None:
        harness = mirrored()
        redis = harness.fast
        harness.blacklist = DownBlacklist()
        issued = await harness.issue_token()(user_id=1)
        harness.blacklist = redis
        assert (await check(harness, issued.token)).user_id == 1  # the log answered
        assert ("blacklist_unavailable", {"operation": "note_logged"}) in harness.telemetry.events


def test_a_mark_lives_until_the_row_may_be_purged_rounded_down() -> None:
    policy = BlacklistPolicy(max_ttl_seconds=60, leeway_seconds=5, redis_answers_alone=True)
    assert policy.logged_ttl_for(expires_at=100.9, now=0.5) == 105
    assert policy.logged_ttl_for(expires_at=100, now=106) == 0


@pytest.mark.parametrize("scope", ["token", "user"])
async def test_a_revocation_answered_503_is_done_by_its_retry_on_every_instance(scope: str) -> None:
    """A marked token's checks never read the log: a revocation Redis missed (answered 503:
    not done) is done when the client retries it, or when the repair re-pushes the log."""
    harness = mirrored()
    issued = await harness.issue_token()(user_id=1)
    harness.clock.advance(1)
    redis, claims = harness.fast, harness.codec.verify(issued.token)

    async def revoke() -> None:
        if scope == "token":
            await harness.logout()(claims=claims, revocation=LOGOUT)
        else:
            await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)

    harness.blacklist = DownBlacklist()
    with pytest.raises(RevocationNotMirrored):
        await revoke()
    harness.blacklist = redis
    await revoke()  # the retry answers 200
    harness.token_log = DownTokenLog()
    another_process(harness)
    with pytest.raises(TokenRevoked):
        await check(harness, issued.token)
