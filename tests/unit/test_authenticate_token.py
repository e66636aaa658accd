from __future__ import annotations

import pytest

from domain.errors import InvalidToken, TokenLogUnavailable, TokenNotLogged, TokenRevoked
from domain.model import BlacklistEntry, Claims, TokenKey
from domain.use_cases import bearer_token
from tests.fakes import DownBlacklist, DownTokenLog
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
        await harness.logout()(claims=claims)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(token))

    async def test_rejects_a_blacklisted_token_even_while_the_log_is_down(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        await harness.fast.add([BlacklistEntry(issued.record.key, 1, 60)])
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
        await harness.logout()(claims=harness.codec.verify(issued.token))
        harness.blacklist = None
        harness.__post_init__()  # an empty Redis: restarted or flushed
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))

    async def test_decides_from_the_log_while_redis_is_down(self) -> None:
        harness = Harness()
        live = await harness.issue_token()(user_id=1)
        dead = await harness.issue_token()(user_id=1)
        await harness.logout()(claims=harness.codec.verify(dead.token))
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
