from __future__ import annotations

import dataclasses
import gc
import re
import time
import weakref

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.domain.errors import InvalidToken, TokenLogUnavailable, TokenNotLogged, TokenRevoked
from revocation.domain.model import BlacklistEntry, Claims, TokenKey
from revocation.domain.use_cases import bearer_token
from revocation.domain.use_cases.authenticate_token import is_b64token
from tests.fakes import DownBlacklist, DownTokenLog
from tests.revocations import LOGOUT, LOGOUT_ALL
from tests.unit.harness import Harness, bearer


def unlogged_token(harness: Harness, user_id: int = 7, iat: int | None = None) -> str:
    """A validly signed token that the log never saw (issued by "another service")."""
    issued_at = int(harness.clock.now()) if iat is None else iat
    claims = Claims(
        TokenKey("unit-tests", f"foreign-{issued_at}"), user_id, issued_at, issued_at + 600
    )
    return harness.codec.encode(claims)


class TestBearerToken:
    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "Bearer",
            "Bearer ",
            "Basic abc",
            "Token abc.def.ghi",
            "Bearer a b",
            "Bearer ä.b.c",
        ],
    )
    def test_rejects_a_header_without_one_bearer_token(self, header: str | None) -> None:
        with pytest.raises(InvalidToken):
            bearer_token(header)

    def test_rejects_a_megabyte_token_before_decoding(self) -> None:
        with pytest.raises(InvalidToken):
            bearer_token("Bearer " + "a" * 1_000_000)

    def test_accepts_any_case_of_the_scheme_and_extra_spaces(self) -> None:
        assert bearer_token("bEaReR   abc.def.ghi") == "abc.def.ghi"


# RFC 6750's b64token as its grammar reads, the reference `is_b64token` must agree with.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@settings(max_examples=2_000, deadline=None, database=None)
@given(st.text(alphabet="aZ09-._~+/=% \n\x00\x7fé€", max_size=12))
@example("")
@example("===")
@example("abc==")
@example("=abc")
@example("a=b")
@example("abc\n")
@example("abc é")
def test_a_b64token_is_exactly_what_the_grammar_says(token: str) -> None:
    assert is_b64token(token) == (B64TOKEN.fullmatch(token) is not None)


class TestAuthenticateToken:
    async def test_accepts_a_freshly_issued_token(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        claims = await harness.authenticate()(authorization=bearer(issued.token))
        assert claims.user_id == 42
        assert claims.key == issued.record.key

    async def test_rejects_a_token_the_log_never_saw(self) -> None:
        harness = Harness()
        with pytest.raises(TokenNotLogged):
            await harness.authenticate()(authorization=bearer(unlogged_token(harness)))

    async def test_not_blocked_mode_accepts_an_unlogged_token(self) -> None:
        harness = Harness(require_logged=False)
        claims = await harness.authenticate()(authorization=bearer(unlogged_token(harness, 9)))
        assert claims.user_id == 9

    async def test_not_blocked_mode_still_rejects_a_blocked_token(self) -> None:
        harness = Harness(require_logged=False)
        token = unlogged_token(harness)
        claims = harness.codec.verify(token)
        await harness.logout()(claims=claims, revocation=LOGOUT)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(token))

    async def test_rejects_a_blacklisted_token_even_while_the_log_is_down(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        await harness.fast.add([BlacklistEntry(issued.record.key, 60)])
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))

    async def test_fails_closed_when_the_log_is_down_and_redis_has_no_entry(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await harness.authenticate()(authorization=bearer(issued.token))

    async def test_rejects_a_token_blocked_in_the_log_that_redis_forgot(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
        harness.blacklist = None
        harness.__post_init__()  # an empty Redis: restarted or flushed
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))

    async def test_decides_from_the_log_while_redis_is_down(self) -> None:
        harness = Harness()
        live = await harness.issue_token()(user_id=1)
        dead = await harness.issue_token()(user_id=1)
        await harness.logout()(claims=harness.codec.verify(dead.token), revocation=LOGOUT)
        harness.blacklist = DownBlacklist()
        assert (await harness.authenticate()(authorization=bearer(live.token))).user_id == 1
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(dead.token))

    async def test_rejects_a_token_logged_for_another_user(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        forged_owner = Claims(
            issued.record.key, 2, int(harness.clock.now()), int(harness.clock.now()) + 60
        )
        with pytest.raises(TokenNotLogged):
            await harness.authenticate()(authorization=bearer(harness.codec.encode(forged_owner)))

    async def test_rejects_an_invalid_signature_before_the_log(self) -> None:
        harness = Harness(token_log=DownTokenLog())
        token = unlogged_token(harness)
        with pytest.raises(InvalidToken):
            await harness.authenticate()(authorization=bearer(token[:-2] + "xx"))


FOREIGN_KEY = "a-key-that-is-not-ours-but-is-long-enough-for-hs256"


def forged(harness: Harness, claims: Claims) -> str:
    """The claims signed with a key that is not the service's: what an attacker can make."""
    forger = PyJWTCodec(
        algorithms=("HS256",),
        verification_key=FOREIGN_KEY,
        signing_key=FOREIGN_KEY,
        issuer="unit-tests",
        leeway_seconds=0,
    )
    return forger.encode(claims)


class TestNoRevocationOracle:
    """A forged token is refused as invalid, never as revoked, whatever its victim did."""

    @pytest.mark.parametrize("redis_answers_alone", [False, True])
    async def test_a_forgery_of_a_blacklisted_token_is_invalid(
        self, redis_answers_alone: bool
    ) -> None:
        harness = Harness(redis_answers_alone=redis_answers_alone)
        issued = await harness.issue_token()(user_id=1)
        claims = harness.codec.verify(issued.token)
        await harness.logout()(claims=claims, revocation=LOGOUT)
        with pytest.raises(InvalidToken):
            await harness.authenticate()(authorization=bearer(forged(harness, claims)))
        assert harness.telemetry.events[-1] == ("token_rejected", {"reason": "invalid"})

    @pytest.mark.parametrize("redis_answers_alone", [False, True])
    async def test_a_verdict_returns_the_refusal_the_call_raises(
        self, redis_answers_alone: bool
    ) -> None:
        """Counted and noted alike, whether the fast layer or the log refused it."""
        harness = Harness(redis_answers_alone=redis_answers_alone)
        issued = await harness.issue_token()(user_id=1)
        authenticate = harness.authenticate()
        live = await authenticate.verdict(authorization=bearer(issued.token))
        assert isinstance(live, Claims)
        await harness.logout()(claims=live, revocation=LOGOUT)
        refused = await authenticate.verdict(authorization=bearer(issued.token))
        assert isinstance(refused, TokenRevoked)
        with pytest.raises(TokenRevoked):
            await authenticate(authorization=bearer(issued.token))
        invalid = await authenticate.verdict(authorization="Bearer not-a-jwt")
        assert isinstance(invalid, InvalidToken)
        rejections = [
            fields for name, fields in harness.telemetry.events if name == "token_rejected"
        ]
        assert rejections == [{"reason": "revoked"}] * 2 + [{"reason": "invalid"}]
        assert [replay.count for replay in harness.replays.take()] == [2]

    async def test_a_refusal_is_freed_at_once_returned_or_raised(self) -> None:
        """No reference cycle through the check's frames: a flood of refusals must not wait for
        the garbage collector, whose full passes are rare."""
        harness = Harness()
        authenticate = harness.authenticate()
        gc.disable()
        try:
            returned = await authenticate.verdict(authorization="Bearer not-a-jwt")
            assert isinstance(returned, InvalidToken)
            gone = [weakref.ref(returned)]
            del returned
            try:
                await authenticate(authorization="Bearer not-a-jwt")
            except InvalidToken as raised:
                gone.append(weakref.ref(raised))
            assert [ref() for ref in gone] == [None, None]
        finally:
            gc.enable()

    async def test_a_verdict_raises_what_is_no_refusal(self) -> None:
        """With the fast layer and the log both down there is no answer: a 503, not a 401."""
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        harness.blacklist, harness.token_log = DownBlacklist(), DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await harness.authenticate().verdict(authorization=bearer(issued.token))

    async def test_a_forgery_older_than_its_users_logout_all_is_invalid(self) -> None:
        harness = Harness()
        await harness.logout_all()(user_id=5, revocation=LOGOUT_ALL)
        harness.clock.advance(5)
        now = int(harness.clock.now())
        older = Claims(TokenKey("unit-tests", "guess"), 5, now - 4, now + 600)
        with pytest.raises(InvalidToken):
            await harness.authenticate()(authorization=bearer(forged(harness, older)))

    async def test_the_real_token_is_still_refused_as_revoked(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))


class TestJtiSharedAcrossUsers:
    """A block on an (iss, jti) refuses every token carrying it, whatever its `sub`."""

    @pytest.mark.parametrize("require_logged", [True, False])
    async def test_a_logout_of_the_twin_blocks_the_logged_token_durably(
        self, require_logged: bool
    ) -> None:
        harness = Harness(require_logged=require_logged)
        logged = await harness.issue_token()(user_id=1)
        twin = harness.codec.encode(
            dataclasses.replace(harness.codec.verify(logged.token), user_id=2)
        )
        await harness.logout()(claims=harness.codec.verify(twin), revocation=LOGOUT)
        harness.blacklist = None
        harness.__post_init__()  # an empty Redis: only the log knows now
        for token in (twin, logged.token):
            with pytest.raises(TokenRevoked):
                await harness.authenticate()(authorization=bearer(token))

    async def test_a_complete_mirror_refuses_the_twin_of_a_blocked_token(self) -> None:
        harness = Harness(require_logged=False, redis_answers_alone=True)
        logged = await harness.issue_token()(user_id=1)
        await harness.logout()(claims=harness.codec.verify(logged.token), revocation=LOGOUT)
        twin = harness.codec.encode(
            dataclasses.replace(harness.codec.verify(logged.token), user_id=2)
        )
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(twin))


class TestUnloggedIatSkew:
    """A foreign issuer's `iat` comes from its clock: the skew widens the dead zone for
    unlogged tokens only; logged ones keep the precise rule."""

    SKEW = 30

    async def watermark_second(self, harness: Harness) -> int:
        """A logout-all a minute ago, within its second: PyJWT reads the real clock for `iat`,
        so every token of these tests is issued in the past."""
        second = int(time.time()) - 2 * self.SKEW
        harness.clock.set(second + 0.4)
        await harness.logout_all()(user_id=7, revocation=LOGOUT_ALL)
        harness.clock.advance(1)
        return second

    @pytest.mark.parametrize("redis_answers_alone", [False, True])
    async def test_an_unlogged_token_within_the_skew_is_dead_and_one_past_it_lives(
        self, redis_answers_alone: bool
    ) -> None:
        harness = Harness(
            require_logged=False, redis_answers_alone=redis_answers_alone, skew=self.SKEW
        )
        second = await self.watermark_second(harness)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(
                authorization=bearer(unlogged_token(harness, 7, iat=second + self.SKEW))
            )
        token = unlogged_token(harness, 7, iat=second + self.SKEW + 1)
        assert (await harness.authenticate()(authorization=bearer(token))).user_id == 7

    async def test_without_a_skew_only_the_watermarks_second_is_dead(self) -> None:
        harness = Harness(require_logged=False)
        second = await self.watermark_second(harness)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(unlogged_token(harness, 7, second)))
        token = unlogged_token(harness, 7, iat=second + 1)
        assert (await harness.authenticate()(authorization=bearer(token))).user_id == 7

    async def test_a_logged_token_issued_after_the_watermark_lives_within_the_skew(self) -> None:
        harness = Harness(require_logged=False, skew=self.SKEW)
        await self.watermark_second(harness)
        issued = await harness.issue_token()(user_id=7)
        assert (await harness.authenticate()(authorization=bearer(issued.token))).user_id == 7
