"""Every revocation leaves exactly one record of who asked and why, with the revocation itself."""

from __future__ import annotations

import asyncio

import pytest

from revocation.domain.app_gate import InternalCall
from revocation.domain.audit import Actor, AuditRecord, Reason, Revocation
from revocation.domain.errors import InvalidAppCredentials, TokenLogUnavailable
from revocation.domain.model import Claims
from tests.fakes import DownTokenLog
from tests.revocations import TEST_PEER
from tests.unit.harness import APP_ID, APP_KEY, Harness


async def log_in(harness: Harness, user_id: int, device: str | None) -> Claims:
    issued = await harness.issue_token()(user_id=user_id, device=device)
    harness.clock.advance(1)
    return harness.codec.verify(issued.token)


async def trail(harness: Harness, user_id: int) -> list[AuditRecord]:
    return await harness.audit_trail.history(user_id, before_id=None, limit=100)


def lgt_all(user_id: object = 7, app_key: str = APP_KEY) -> InternalCall:
    return InternalCall(user_id=user_id, app_id=APP_ID, app_key=app_key, peer="10.1.2.3")


class TestEachRevocationIsRecordedOnce:
    async def test_a_logout_names_the_session_its_device_and_the_user_acting_from_it(
        self,
    ) -> None:
        harness = Harness()
        phone = await log_in(harness, 7, "phone")

        revocation = Revocation.by_user(Reason.LOGOUT, phone.key, TEST_PEER)
        await harness.logout()(claims=phone, revocation=revocation)

        [record] = await trail(harness, 7)
        assert (record.reason, record.session_id, record.device) == (
            "logout",
            phone.key.session_id,
            "phone",
        )
        assert (record.actor_kind, record.actor_session_id, record.actor_device) == (
            "user",
            phone.key.session_id,
            "phone",
        )
        assert (record.peer, record.revoked_at) == (TEST_PEER, harness.clock.now())

    async def test_racing_logouts_of_one_token_leave_one_record(self) -> None:
        harness = Harness()
        phone = await log_in(harness, 7, "phone")
        revocation = Revocation.by_user(Reason.LOGOUT, phone.key, TEST_PEER)

        await asyncio.gather(*(harness.logout()(claims=phone, revocation=revocation),) * 3)
        await harness.logout()(claims=phone, revocation=revocation)

        assert [r.reason for r in await trail(harness, 7)] == ["logout"]
        assert [name for name in harness.telemetry.names() if name == "revocation_recorded"] == [
            "revocation_recorded"
        ]

    async def test_a_revoked_session_names_both_sessions(self) -> None:
        harness = Harness()
        phone, laptop = await log_in(harness, 7, "phone"), await log_in(harness, 7, "laptop")

        revoke = harness.revoke_session()
        await revoke(claims=laptop, session_id=phone.key.session_id, peer=TEST_PEER)

        [record] = await trail(harness, 7)
        assert (record.reason, record.session_id, record.device) == (
            "session_revoked",
            phone.key.session_id,
            "phone",
        )
        assert (record.actor_session_id, record.actor_device) == (laptop.key.session_id, "laptop")

    async def test_a_logout_all_names_every_session_and_where_it_came_from(self) -> None:
        harness = Harness()
        await log_in(harness, 7, "phone")
        laptop = await log_in(harness, 7, "laptop")

        revocation = Revocation.by_user(Reason.LOGOUT_ALL, laptop.key, TEST_PEER)
        await harness.logout_all()(user_id=7, revocation=revocation)
        await harness.background.finish()  # the rows blocked later record nothing more

        [record] = await trail(harness, 7)
        assert (record.reason, record.session_id, record.device) == ("logout_all", None, None)
        assert (record.actor_kind, record.actor_device) == ("user", "laptop")

    async def test_lgt_all_names_the_app_and_keeps_its_reason(self) -> None:
        harness = Harness()

        await harness.internal_logout_all()(call=lgt_all(), reason="  password changed ")

        [record] = await trail(harness, 7)
        assert (record.reason, record.actor_kind, record.actor_name) == (
            "service_logout_all",
            "service",
            APP_ID,
        )
        assert (record.note, record.note_dropped, record.peer) == (
            "password changed",
            False,
            "10.1.2.3",
        )

    @pytest.mark.parametrize(
        "reason", [42, ["a"], {"why": "x"}, "x" * 201, "line\nbreak", "nul\x00", "\ud800"]
    )
    async def test_lgt_all_drops_an_unusable_reason_and_notes_it_but_logs_out(
        self, reason: object
    ) -> None:
        harness = Harness()
        user = await log_in(harness, 7, "phone")

        await harness.internal_logout_all()(call=lgt_all(), reason=reason)

        [record] = await trail(harness, 7)
        assert (record.note, record.note_dropped) == (None, True)
        state = await harness.token_log.lookup(user.key, 7)
        assert state.watermark is not None

    @pytest.mark.parametrize("reason", [None, "", "   "])
    async def test_lgt_all_without_a_reason_notes_nothing(self, reason: object) -> None:
        harness = Harness()

        await harness.internal_logout_all()(call=lgt_all(), reason=reason)

        [record] = await trail(harness, 7)
        assert (record.note, record.note_dropped) == (None, False)

    async def test_a_refused_internal_call_records_nothing(self) -> None:
        harness = Harness()

        with pytest.raises(InvalidAppCredentials):
            await harness.internal_logout_all()(call=lgt_all(app_key="wrong"), reason="x")

        assert await trail(harness, 7) == []

    async def test_a_revocation_that_fails_records_nothing_and_says_so(self) -> None:
        harness = Harness()
        phone = await log_in(harness, 7, "phone")
        recorded = harness.audit_trail
        harness.token_log = DownTokenLog()

        with pytest.raises(TokenLogUnavailable):
            await harness.logout()(
                claims=phone, revocation=Revocation.by_user(Reason.LOGOUT, phone.key, None)
            )

        assert await recorded.history(7, before_id=None, limit=10) == []
        assert "revocation_recorded" not in harness.telemetry.names()


class TestRevocationValues:
    def test_a_peer_is_bounded_and_free_of_control_characters(self) -> None:
        revocation = Revocation(Reason.LOGOUT, Actor("user"), "evil\r\nline" + "x" * 100)

        assert revocation.peer is not None
        assert "\n" not in revocation.peer
        assert len(revocation.peer) == 64

    def test_an_app_id_is_bounded(self) -> None:
        assert len(Actor.service("a" * 1000).name or "") == 255
