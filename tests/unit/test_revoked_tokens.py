"""RevokedTokens: a token refused as revoked is refused again without asking the fast layer or
the log, and only the very token that was verified and refused is."""

from __future__ import annotations

import jwt
import pytest

from revocation.adapters.verified_tokens import VerifiedTokenCache
from revocation.domain.errors import InvalidToken, TokenLogUnavailable, TokenRevoked
from revocation.domain.model import Claims, TokenKey
from revocation.domain.revoked_tokens import RevokedTokens
from tests.fakes import DownBlacklist, DownTokenLog
from tests.revocations import LOGOUT, LOGOUT_ALL
from tests.unit.harness import LEEWAY, TTL, Harness, bearer
from tests.unit.test_authenticate_token import forged
from tests.unit.test_verified_tokens import clock_datetime


def with_verified_tokens(harness: Harness) -> Harness:
    """The harness's codec behind the verified-token cache, as the app wires it."""
    harness.codec = VerifiedTokenCache(
        harness.codec, clock=harness.clock, leeway_seconds=LEEWAY, max_entries=100
    )
    return harness


def storage_down(harness: Harness) -> None:
    """Neither the fast layer nor the log can answer: a check that asks either gets a 503."""
    harness.blacklist, harness.token_log = DownBlacklist(), DownTokenLog()


def asked_the_fast_layer(harness: Harness) -> bool:
    return any(name == "blacklist_unavailable" for name, _ in harness.telemetry.events)


async def logged_out(harness: Harness) -> str:
    """A token issued, then logged out: the fast layer and the log both show it blocked."""
    issued = await harness.issue_token()(user_id=1)
    await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
    return issued.token


class TestARefusalIsRemembered:
    @pytest.mark.parametrize("redis_answers_alone", [False, True])
    async def test_the_same_token_is_refused_again_with_storage_down(
        self, redis_answers_alone: bool
    ) -> None:
        harness = with_verified_tokens(Harness(redis_answers_alone=redis_answers_alone))
        token = await logged_out(harness)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(token))
        storage_down(harness)
        refused = await harness.authenticate().verdict(authorization=bearer(token))
        assert isinstance(refused, TokenRevoked)
        assert str(refused) == "token is blacklisted"  # the first refusal's reason
        assert not asked_the_fast_layer(harness)

    async def test_each_refusal_is_still_counted_and_noted_as_a_replay(self) -> None:
        harness = with_verified_tokens(Harness())
        token = await logged_out(harness)
        for _ in range(3):
            refused = await harness.authenticate().verdict(authorization=bearer(token))
            assert isinstance(refused, TokenRevoked)
        rejections = [
            fields for name, fields in harness.telemetry.events if name == "token_rejected"
        ]
        assert rejections == [{"reason": "revoked"}] * 3
        assert [replay.count for replay in harness.replays.take()] == [3]

    async def test_a_refusal_the_log_made_is_remembered_too(self) -> None:
        harness = with_verified_tokens(Harness())
        issued = await harness.issue_token()(user_id=1)
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        harness.blacklist = DownBlacklist()  # the log alone decides: its watermark refuses
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenRevoked, match="logout-all"):
            await harness.authenticate()(authorization=bearer(issued.token))

    async def test_an_expired_token_gets_the_answer_of_any_expired_token(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        harness = with_verified_tokens(Harness())
        monkeypatch.setattr(jwt.api_jwt, "datetime", clock_datetime(harness.clock))
        token = await logged_out(harness)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(token))
        storage_down(harness)
        harness.clock.advance(TTL + LEEWAY + 1)
        with pytest.raises(InvalidToken, match="ExpiredSignatureError"):
            await harness.authenticate()(authorization=bearer(token))


class TestOnlyTheVerifiedTokenHits:
    async def test_a_forgery_of_a_remembered_token_takes_the_forgerys_path(self) -> None:
        """Invalid, after asking the fast layer as any forgery does: neither the answer nor the
        work done tells whether the pair it names was revoked."""
        harness = with_verified_tokens(Harness())
        token = await logged_out(harness)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(token))
        claims = harness.codec.verify(token)
        storage_down(harness)
        with pytest.raises(InvalidToken):
            await harness.authenticate()(authorization=bearer(forged(harness, claims)))
        assert asked_the_fast_layer(harness)

    async def test_without_the_verified_token_cache_every_check_asks(self) -> None:
        """The plain codec makes new claims per call: nothing hits, the check runs in full."""
        harness = Harness()
        token = await logged_out(harness)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(token))
        assert len(harness.revoked_tokens) == 1
        storage_down(harness)
        with pytest.raises(TokenLogUnavailable):
            await harness.authenticate()(authorization=bearer(token))


def claims(number: int) -> Claims:
    return Claims(TokenKey("unit-tests", f"jti-{number}"), 1, 1_000, 2_000)


class TestRevokedTokens:
    def test_knows_claims_by_identity_not_by_equality(self) -> None:
        memo = RevokedTokens(max_entries=10)
        refused = claims(1)
        memo.remember(refused, "token is blacklisted")
        assert memo.reason(refused) == "token is blacklisted"
        assert claims(1) == refused
        assert memo.reason(claims(1)) is None

    def test_forgets_the_oldest_tenth_when_full(self) -> None:
        memo = RevokedTokens(max_entries=20)
        kept = [claims(number) for number in range(25)]
        for one in kept:
            memo.remember(one, "revoked")
        assert len(memo) <= 20
        assert memo.reason(kept[0]) is None
        assert memo.reason(kept[-1]) == "revoked"

    def test_a_size_of_zero_remembers_nothing(self) -> None:
        memo = RevokedTokens(max_entries=0)
        refused = claims(1)
        memo.remember(refused, "revoked")
        assert memo.reason(refused) is None
        assert len(memo) == 0
