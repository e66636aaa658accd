"""ListSessions and RevokeSession on the in-memory fakes."""

from __future__ import annotations

import pytest

from revocation.domain.errors import SessionNotFound, TokenLogUnavailable, TokenRevoked
from revocation.domain.model import Claims, Session
from revocation.domain.use_cases import ListSessions, RevokeSession
from tests.fakes import DownBlacklist, DownTokenLog
from tests.revocations import LOGOUT, LOGOUT_ALL, TEST_PEER
from tests.unit.harness import MAX_BLACKLIST_TTL, TTL, Harness, bearer


def list_sessions(harness: Harness) -> ListSessions:
    return ListSessions(token_log=harness.token_log, clock=harness.clock)


def revoke_session(harness: Harness) -> RevokeSession:
    return RevokeSession(
        token_log=harness.token_log, clock=harness.clock, logout_token=harness.logout()
    )


async def log_in(harness: Harness, user_id: int, device: str | None = None) -> Claims:
    issued = await harness.issue_token()(user_id=user_id, device=device)
    harness.clock.advance(1)  # distinct issue times give a stable newest-first order
    return harness.codec.verify(issued.token)


async def sessions_of(harness: Harness, claims: Claims) -> list[Session]:
    return await list_sessions(harness)(claims=claims)


class TestListSessions:
    async def test_lists_the_users_live_sessions_newest_first_marking_the_current_one(
        self,
    ) -> None:
        harness = Harness()
        laptop = await log_in(harness, 7, device="laptop")
        phone = await log_in(harness, 7, device="phone")
        await log_in(harness, 8, device="someone else's")

        sessions = await sessions_of(harness, laptop)

        assert [(s.device, s.current) for s in sessions] == [("phone", False), ("laptop", True)]
        assert sessions[1].issued_at == sessions[0].issued_at - 1
        assert sessions[0].expires_at == phone.expires_at
        assert len({s.session_id for s in sessions}) == 2

    async def test_leaves_out_logged_out_expired_and_logged_out_everywhere_tokens(self) -> None:
        harness = Harness()
        old = await log_in(harness, 7, device="before logout-all")
        await harness.logout_all()(user_id=7, revocation=LOGOUT_ALL)
        harness.clock.advance(1)
        gone = await log_in(harness, 7, device="logged out")
        await harness.logout()(claims=gone, revocation=LOGOUT)
        kept = await log_in(harness, 7, device="kept")

        assert [s.device for s in await sessions_of(harness, kept)] == ["kept"]
        harness.clock.advance(TTL)
        assert await sessions_of(harness, old) == []

    async def test_fails_when_the_log_is_down(self) -> None:
        harness = Harness()
        claims = await log_in(harness, 7)
        harness.token_log = DownTokenLog()
        with pytest.raises(TokenLogUnavailable):
            await sessions_of(harness, claims)


class TestRevokeSession:
    async def test_blocks_that_token_in_the_log_and_the_blacklist_only(self) -> None:
        harness = Harness()
        phone_issued = await harness.issue_token()(user_id=7, device="phone")
        phone = harness.codec.verify(phone_issued.token)
        laptop = await log_in(harness, 7, device="laptop")
        (phone_session,) = [s for s in await sessions_of(harness, laptop) if not s.current]

        await revoke_session(harness)(
            claims=laptop, session_id=phone_session.session_id, peer=TEST_PEER
        )

        state = await harness.token_log.lookup(phone.key, 7)
        assert state.record is not None
        assert state.record.blocked_at == harness.clock.now()
        assert (await harness.fast.lookup(phone.key, 7)).token_blocked
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(phone_issued.token))
        assert [s.device for s in await sessions_of(harness, laptop)] == ["laptop"]

    async def test_blacklist_entry_lives_as_long_as_logout_would_keep_it(self) -> None:
        harness = Harness()
        phone = await log_in(harness, 7)
        (session,) = await sessions_of(harness, phone)

        await revoke_session(harness)(claims=phone, session_id=session.session_id, peer=TEST_PEER)

        harness.clock.advance(MAX_BLACKLIST_TTL - 2)
        assert (await harness.fast.lookup(phone.key, 7)).token_blocked
        harness.clock.advance(2)
        assert not (await harness.fast.lookup(phone.key, 7)).token_blocked

    async def test_can_revoke_the_current_session(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=7)
        claims = harness.codec.verify(issued.token)
        (session,) = await sessions_of(harness, claims)

        await revoke_session(harness)(claims=claims, session_id=session.session_id, peer=TEST_PEER)

        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))

    @pytest.mark.parametrize("session_id", ["999", "", "-1", "1.0", "abc", "0x1"])
    async def test_an_unknown_id_is_not_found(self, session_id: str) -> None:
        harness = Harness()
        claims = await log_in(harness, 7)
        with pytest.raises(SessionNotFound):
            await revoke_session(harness)(claims=claims, session_id=session_id, peer=TEST_PEER)

    async def test_another_users_session_is_not_found_and_stays_live(self) -> None:
        harness = Harness()
        victim_issued = await harness.issue_token()(user_id=8)
        victim = harness.codec.verify(victim_issued.token)
        attacker = await log_in(harness, 7)
        (victim_session,) = await sessions_of(harness, victim)

        with pytest.raises(SessionNotFound):
            await revoke_session(harness)(
                claims=attacker, session_id=victim_session.session_id, peer=TEST_PEER
            )

        assert await harness.authenticate()(authorization=bearer(victim_issued.token)) == victim
        assert not (await harness.fast.lookup(victim.key, 8)).token_blocked

    async def test_an_already_revoked_session_is_not_found(self) -> None:
        harness = Harness()
        await log_in(harness, 7)
        current = await log_in(harness, 7)
        (_, older) = await sessions_of(harness, current)
        await revoke_session(harness)(claims=current, session_id=older.session_id, peer=TEST_PEER)

        with pytest.raises(SessionNotFound):
            await revoke_session(harness)(
                claims=current, session_id=older.session_id, peer=TEST_PEER
            )

    async def test_succeeds_when_redis_is_down_because_the_log_committed(self) -> None:
        harness = Harness()
        claims = await log_in(harness, 7)
        (session,) = await sessions_of(harness, claims)
        harness.blacklist = DownBlacklist()

        await revoke_session(harness)(claims=claims, session_id=session.session_id, peer=TEST_PEER)

        state = await harness.token_log.lookup(claims.key, 7)
        assert state.record is not None
        assert state.record.is_blocked
        assert harness.telemetry.events[-2:] == [
            ("tokens_revoked", {"count": 1, "scope": "token"}),
            ("blacklist_unavailable", {"operation": "logout"}),
        ]
