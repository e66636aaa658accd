"""Introspection and revocation as use cases, on the in-memory adapters."""

from __future__ import annotations

import time

import pytest

from revocation.adapters.clock import ManualClock
from revocation.domain.app_gate import ClientCall
from revocation.domain.audit import AuditRecord, Reason
from revocation.domain.errors import (
    InvalidAppCredentials,
    MissingAppCredentials,
    MissingToken,
    Throttled,
    TokenLogUnavailable,
    TokenRevoked,
)
from revocation.domain.use_cases import IntrospectToken, RevokeOAuthToken
from tests.fakes import DownTokenLog
from tests.forged_tokens import hs256, payload_of
from tests.revocations import LOGOUT, LOGOUT_ALL
from tests.unit.harness import APP_ID, APP_KEY, TTL, Harness, bearer

CLIENT = ClientCall(APP_ID, APP_KEY, "10.0.0.9")


def forged(token: str) -> str:
    """The same claims, signed with a key that is not ours."""
    return hs256(payload_of(token), "a-key-that-is-not-the-service-key-at-all")


async def audit_of(harness: Harness, user_id: int) -> list[AuditRecord]:
    return await harness.audit_trail.history(user_id, before_id=None, limit=10)


def introspect(harness: Harness) -> IntrospectToken:
    return IntrospectToken(gate=harness.gate(), authenticate=harness.authenticate())


def revoke(harness: Harness) -> RevokeOAuthToken:
    return RevokeOAuthToken(gate=harness.gate(), codec=harness.codec, logout_token=harness.logout())


class TestIntrospectToken:
    async def test_a_live_token_answers_its_claims(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        claims = await introspect(harness)(client=CLIENT, token=issued.token)
        assert claims is not None
        assert (claims.user_id, claims.key) == (42, issued.record.key)

    async def test_a_logged_out_token_is_inactive(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        claims = await harness.authenticate()(authorization=bearer(issued.token))
        await harness.logout()(claims=claims, revocation=LOGOUT)
        assert await introspect(harness)(client=CLIENT, token=issued.token) is None

    async def test_a_token_of_a_logged_out_everywhere_user_is_inactive(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        harness.clock.advance(1)
        await harness.logout_all()(user_id=42, revocation=LOGOUT_ALL)
        assert await introspect(harness)(client=CLIENT, token=issued.token) is None

    @pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 9000, "ab cd"])
    async def test_malformed_tokens_are_inactive(self, token: str) -> None:
        assert await introspect(Harness())(client=CLIENT, token=token) is None

    async def test_expired_and_forged_tokens_are_inactive(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        assert await introspect(harness)(client=CLIENT, token=forged(issued.token)) is None
        past = Harness(clock=ManualClock(start=time.time() - TTL - 60))  # PyJWT reads real time
        expired = await past.issue_token()(user_id=42)
        assert await introspect(past)(client=CLIENT, token=expired.token) is None

    @pytest.mark.parametrize("token", [None, "", 5])
    async def test_a_missing_token_is_an_invalid_request(self, token: object) -> None:
        with pytest.raises(MissingToken):
            await introspect(Harness())(client=CLIENT, token=token)

    async def test_the_client_is_checked_before_the_token(self) -> None:
        with pytest.raises(MissingAppCredentials):
            await introspect(Harness())(client=ClientCall(None, None, "p"), token=None)
        with pytest.raises(InvalidAppCredentials):
            await introspect(Harness())(client=ClientCall(APP_ID, "wrong", "p"), token="t")

    async def test_wrong_secrets_fill_the_same_brake_as_lgt_all(self) -> None:
        harness = Harness(max_failures=2)
        wrong = ClientCall(APP_ID, "wrong", "10.0.0.66")
        for _ in range(2):
            with pytest.raises(InvalidAppCredentials):
                await introspect(harness)(client=wrong, token="t")
        with pytest.raises(Throttled):  # even the right secret, from that peer
            await introspect(harness)(client=ClientCall(APP_ID, APP_KEY, "10.0.0.66"), token="t")
        assert await introspect(harness)(client=CLIENT, token="t") is None  # another peer

    async def test_a_database_that_cannot_answer_is_no_answer(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await introspect(harness)(client=CLIENT, token=issued.token)


class TestRevokeOAuthToken:
    async def test_revokes_as_logout_does_and_names_the_client(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        await revoke(harness)(client=CLIENT, token=issued.token)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))
        state = await harness.token_log.lookup(issued.record.key, 42)
        assert state.record is not None
        assert state.record.is_blocked  # the durable block, not only the fast layer
        (record,) = await audit_of(harness, 42)
        assert (record.reason, record.actor_kind, record.actor_name, record.peer) == (
            Reason.OAUTH_REVOCATION,
            "oauth_client",
            APP_ID,
            "10.0.0.9",
        )

    @pytest.mark.parametrize("token", ["garbage", "a.b.c"])
    async def test_a_token_that_is_not_ours_revokes_nothing_and_succeeds(self, token: str) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        await revoke(harness)(client=CLIENT, token=token)
        await harness.authenticate()(authorization=bearer(issued.token))
        assert await audit_of(harness, 42) == []

    async def test_a_forged_token_revokes_nothing(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        await revoke(harness)(client=CLIENT, token=forged(issued.token))
        await harness.authenticate()(authorization=bearer(issued.token))  # still live

    async def test_revoking_twice_is_quiet(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        await revoke(harness)(client=CLIENT, token=issued.token)
        await revoke(harness)(client=CLIENT, token=issued.token)
        assert len(await audit_of(harness, 42)) == 1

    async def test_a_wrong_client_revokes_nothing(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        with pytest.raises(InvalidAppCredentials):
            await revoke(harness)(client=ClientCall(APP_ID, "wrong", "p"), token=issued.token)
        await harness.authenticate()(authorization=bearer(issued.token))

    async def test_a_database_that_cannot_block_fails_the_revocation(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=42)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await revoke(harness)(client=CLIENT, token=issued.token)
