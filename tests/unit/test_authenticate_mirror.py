"""REVOCATION_CACHE=redis|local: the fast layer's complete mirror answers without the log."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import pytest

from revocation.adapters.memory import InMemoryBlacklist
from revocation.domain.errors import (
    BlacklistUnavailable,
    RevocationNotMirrored,
    TokenLogUnavailable,
    TokenNotLogged,
    TokenRevoked,
)
from revocation.domain.logged_tokens import LoggedTokens
from revocation.domain.model import (
    BlacklistEntry,
    BlacklistState,
    Claims,
    TokenKey,
    TokenRecord,
    Watermark,
)
from revocation.domain.policy import BlacklistPolicy
from tests.fakes import DownBlacklist, DownTokenLog, ManualBackground
from tests.revocations import LOGOUT, LOGOUT_ALL
from tests.unit.harness import LEEWAY, MAX_BLACKLIST_TTL, TTL, Harness, bearer

# A whole second in the recent past: PyJWT checks `iat` (and `exp`) against the real time, and
# this is read when the suite is collected, so a token made from it must outlive the whole run.
SECOND = int(time.time()) - 100
DAY = 86_400


def mirrored(*, require_logged: bool = True) -> Harness:
    return Harness(redis_answers_alone=True, require_logged=require_logged)


async def check(harness: Harness, token: str) -> Claims:
    return await harness.authenticate()(authorization=bearer(token))


class PendingEverywhere(InMemoryBlacklist):
    """A complete mirror in which every token reads "pending": a logout of it is committing."""

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        return dataclasses.replace(await super().lookup(key, user_id), token_pending=True)


class WritesFail(InMemoryBlacklist):
    """A complete mirror that answers reads and fails every write (Redis went read-only)."""

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        raise BlacklistUnavailable("read-only")


class TestTheMirrorAnswersAlone:
    async def test_a_blocked_row_the_mirror_missed_is_not_remembered_as_logged(self) -> None:
        """The log's block is found, and putting it in the fast layer fails: the next check
        must ask the log again, not take "logged, issued then" from this process's memo."""
        harness = mirrored()
        now = int(harness.clock.now())
        key = TokenKey("unit-tests", "logged-elsewhere-then-blocked")
        record = TokenRecord(key, 1, now, now + 600)
        await harness.token_log.record(record)
        await harness.token_log.block(record, blocked_at=now, revocation=LOGOUT)
        token = harness.codec.encode(Claims(key, 1, now, now + 600))
        harness.blacklist = WritesFail(harness.clock, complete=True)
        for _ in range(2):
            with pytest.raises(TokenRevoked):
                await check(harness, token)
        assert len(harness.logged_tokens) == 0

    async def test_a_pending_token_asks_the_log_even_when_this_process_knows_it(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        await check(harness, issued.token)  # learns it is logged
        await harness.token_log.block(
            issued.record, blocked_at=harness.clock.now(), revocation=LOGOUT
        )
        harness.blacklist = PendingEverywhere(harness.clock, complete=True)
        with pytest.raises(TokenRevoked):  # the logout committed; its entry is not in Redis yet
            await check(harness, issued.token)

    async def test_a_known_logged_token_needs_no_database(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        assert (await check(harness, issued.token)).user_id == 1  # learns it is logged
        harness.token_log = DownTokenLog()
        assert (await check(harness, issued.token)).user_id == 1

    async def test_a_token_logged_elsewhere_and_never_seen_asks_the_log(self) -> None:
        harness = mirrored()
        now = int(harness.clock.now())
        key = TokenKey("unit-tests", "logged-by-another-service")
        await harness.token_log.record(TokenRecord(key, 1, now, now + 600))
        issued = harness.codec.encode(Claims(key, 1, now, now + 600))
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await check(harness, issued)

    async def test_an_unlogged_token_is_still_refused(self) -> None:
        harness = mirrored()
        now = int(harness.clock.now())
        claims = Claims(TokenKey("unit-tests", "never-logged"), 1, now, now + 600)
        with pytest.raises(TokenNotLogged):
            await check(harness, harness.codec.encode(claims))

    async def test_an_incomplete_mirror_sends_every_check_to_the_log(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        await check(harness, issued.token)
        harness.fast.complete = False  # type: ignore[attr-defined] # Redis restarted empty
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await check(harness, issued.token)

    async def test_without_the_mode_the_log_is_read_every_time(self) -> None:
        harness = Harness()
        harness.fast.complete = True  # type: ignore[attr-defined] # a marker, but mode off
        issued = await harness.issue_token()(user_id=1)
        await check(harness, issued.token)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await check(harness, issued.token)

    async def test_redis_down_falls_back_to_the_log(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        await check(harness, issued.token)
        harness.blacklist = DownBlacklist()
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await check(harness, issued.token)

    async def test_a_token_living_longer_than_the_mirror_covers_asks_the_log(self) -> None:
        harness = mirrored()
        now = int(harness.clock.now())
        key = TokenKey("unit-tests", "long-lived")
        lifetime = max(MAX_BLACKLIST_TTL, TTL) + 1
        await harness.token_log.record(TokenRecord(key, 1, now, now + lifetime))
        token = harness.codec.encode(Claims(key, 1, now, now + lifetime))
        await check(harness, token)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await check(harness, token)


class TestRevocationsThroughTheMirror:
    async def test_a_logged_out_token_is_refused_without_the_log(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        await check(harness, issued.token)
        await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenRevoked):
            await check(harness, issued.token)

    async def test_the_watermark_second_is_decided_by_the_precise_issue_time(self) -> None:
        harness = mirrored()
        rows_later = ManualBackground()  # only the watermark reaches Redis before the answer
        harness.clock.set(SECOND + 0.2)
        before = await harness.issue_token()(user_id=1)
        await check(harness, before.token)  # the process learns its precise issue time
        harness.clock.set(SECOND + 0.5)
        await harness.logout_all(rows_later)(user_id=1, revocation=LOGOUT_ALL)
        harness.clock.set(SECOND + 0.7)
        after = await harness.issue_token()(user_id=1)
        await check(harness, after.token)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenRevoked):
            await check(harness, before.token)
        assert (await check(harness, after.token)).user_id == 1

    async def test_logout_answers_503_when_redis_did_not_take_the_block(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        claims = harness.codec.verify(issued.token)
        harness.blacklist = DownBlacklist()
        with pytest.raises(RevocationNotMirrored):
            await harness.logout()(claims=claims, revocation=LOGOUT)
        state = await harness.token_log.lookup(claims.key, 1)
        assert state.record is not None
        assert state.record.is_blocked  # the durable write stays

    async def test_logout_all_answers_503_when_redis_did_not_take_the_watermark(self) -> None:
        harness = mirrored()
        await harness.issue_token()(user_id=1)
        harness.blacklist = DownBlacklist()
        with pytest.raises(RevocationNotMirrored):
            await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        assert (await harness.token_log.lookup(TokenKey("x", "y"), 1)).watermark is not None

    async def test_a_logout_all_answered_503_still_blocks_the_rows_afterwards(self) -> None:
        harness = mirrored()
        issued = await harness.issue_token()(user_id=1)
        rows_later = ManualBackground()
        harness.blacklist = DownBlacklist()
        with pytest.raises(RevocationNotMirrored):
            await harness.logout_all(rows_later)(user_id=1, revocation=LOGOUT_ALL)
        await rows_later.finish()
        state = await harness.token_log.lookup(issued.record.key, 1)
        assert state.record is not None
        assert state.record.is_blocked

    @pytest.mark.parametrize("scope", ["token", "user"])
    async def test_a_revocation_redis_missed_is_put_there_by_the_next_check_that_sees_it(
        self, scope: str
    ) -> None:
        """A token the fast layer does not know as logged (another service logged it, and no
        check read it yet): its first check reads the log, which knows the revocation."""
        harness = mirrored()
        now = int(harness.clock.now())
        key = TokenKey("unit-tests", "logged-elsewhere")
        await harness.token_log.record(TokenRecord(key, 1, now, now + 600))
        token = harness.codec.encode(Claims(key, 1, now, now + 600))
        harness.clock.advance(1)  # a revocation in a later second: Redis can tell alone
        redis = harness.fast
        harness.blacklist = DownBlacklist()
        revoke = (
            harness.logout()(claims=harness.codec.verify(token), revocation=LOGOUT)
            if scope == "token"
            else harness.logout_all(ManualBackground())(  # only the watermark
                user_id=1, revocation=LOGOUT_ALL
            )
        )
        with pytest.raises(RevocationNotMirrored):
            await revoke
        harness.blacklist = redis  # back, complete, but without that revocation
        with pytest.raises(TokenRevoked):
            await check(harness, token)  # the log decides, and tells Redis
        harness.token_log = DownTokenLog()
        harness.logged_tokens = LoggedTokens()  # another instance, which trusts Redis alone
        with pytest.raises(TokenRevoked):
            await check(harness, token)

    async def test_without_the_mode_a_redis_failure_is_covered_by_the_log(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        harness.blacklist = DownBlacklist()
        await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)


class TestNotBlockedMode:
    async def test_an_unlogged_token_needs_nothing_but_the_mirror(self) -> None:
        harness = mirrored(require_logged=False)
        harness.token_log = DownTokenLog()
        now = int(harness.clock.now())
        token = harness.codec.encode(Claims(TokenKey("unit-tests", "u"), 3, now, now + 600))
        assert (await check(harness, token)).user_id == 3

    async def test_a_watermark_in_the_tokens_second_asks_the_log(self) -> None:
        harness = mirrored(require_logged=False)
        harness.clock.set(SECOND + 0.5)
        await harness.fast.raise_watermark(Watermark(3, SECOND + 0.5), 60)
        harness.token_log = DownTokenLog()
        token = harness.codec.encode(Claims(TokenKey("unit-tests", "u"), 3, SECOND, SECOND + DAY))
        with pytest.raises(TokenLogUnavailable):
            await check(harness, token)


class TestPolicy:
    def test_entries_live_until_the_token_expires_plus_leeway(self) -> None:
        capped = BlacklistPolicy(max_ttl_seconds=60, leeway_seconds=LEEWAY)
        mirror = BlacklistPolicy(
            max_ttl_seconds=60, leeway_seconds=LEEWAY, redis_answers_alone=True
        )
        assert capped.ttl_for(expires_at=1000, now=0) == 60
        assert mirror.ttl_for(expires_at=1000, now=0) == 1000 + LEEWAY
        assert mirror.ttl_for(expires_at=10, now=20) == 0

    def test_watermarks_outlive_the_longest_token_the_mirror_answers_for(self) -> None:
        mirror = BlacklistPolicy(
            max_ttl_seconds=60,
            leeway_seconds=5,
            redis_answers_alone=True,
            max_token_lifetime_seconds=3600,
        )
        assert mirror.watermark_ttl_seconds == 3605
        key = TokenKey("i", "j")
        assert mirror.mirror_covers(Claims(key, 1, 100, 3700))
        assert not mirror.mirror_covers(Claims(key, 1, 100, 3701))
        off = BlacklistPolicy(max_ttl_seconds=60, leeway_seconds=5)
        assert off.watermark_ttl_seconds == 65
        assert not off.mirror_covers(Claims(key, 1, 100, 110))


class TestLoggedTokens:
    def test_forgets_a_token_once_the_purge_may_delete_its_row(self) -> None:
        memo = LoggedTokens(leeway_seconds=5)
        record = TokenRecord(TokenKey("i", "j"), 1, 100.25, 200)
        memo.remember(record)
        assert memo.issued_at(record.key, 1, now=204.9) == 100.25
        assert memo.issued_at(record.key, 2, now=150) is None  # another user's claim
        assert memo.issued_at(record.key, 1, now=205) is None
        assert len(memo) == 0

    def test_stays_within_its_bound(self) -> None:
        memo = LoggedTokens(max_entries=50)
        for n in range(500):
            memo.remember(TokenRecord(TokenKey("i", str(n)), 1, 0, 10**9))
            assert len(memo) <= 50
        assert memo.issued_at(TokenKey("i", "499"), 1, now=1) == 0
        assert memo.issued_at(TokenKey("i", "0"), 1, now=1) is None
