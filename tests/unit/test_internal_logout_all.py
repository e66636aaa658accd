from __future__ import annotations

import pytest

from revocation.domain.app_gate import InternalCall
from revocation.domain.errors import (
    InvalidAppCredentials,
    MissingAppCredentials,
    MissingUserId,
    Throttled,
    TokenRevoked,
)
from tests.unit.harness import APP_ID, APP_KEY, Harness, bearer


class TestInternalLogoutAll:
    async def test_logs_the_user_out_everywhere(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=12345)
        harness.clock.advance(1)
        await harness.internal_logout_all()(
            call=InternalCall(user_id=12345, app_id=APP_ID, app_key=APP_KEY, peer="10.0.0.1")
        )
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))
        await harness.background.finish()  # after the response: the row too
        state = await harness.token_log.lookup(issued.record.key, 12345)
        assert state.record is not None
        assert state.record.is_blocked

    @pytest.mark.parametrize("user_id", ["12345", "0012345", 12345])
    async def test_accepts_an_integer_or_a_php_form_string(self, user_id: object) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=12345)
        harness.clock.advance(1)
        await harness.internal_logout_all()(
            call=InternalCall(user_id=user_id, app_id=APP_ID, app_key=APP_KEY, peer="p")
        )
        await harness.background.finish()
        state = await harness.token_log.lookup(issued.record.key, 12345)
        assert state.record is not None
        assert state.record.is_blocked

    @pytest.mark.parametrize(
        "user_id", [None, "", "abc", "12.5", 12.0, -1, 0, 2**63, True, [1], {"id": 1}, "١٢", " 1"]
    )
    async def test_user_id_is_checked_first(self, user_id: object) -> None:
        with pytest.raises(MissingUserId):
            await Harness().internal_logout_all()(
                call=InternalCall(user_id=user_id, app_id=None, app_key=None, peer="p")
            )

    @pytest.mark.parametrize(
        ("app_id", "app_key"),
        [(None, APP_KEY), (APP_ID, None), ("", APP_KEY), (APP_ID, ""), (1, 2)],
    )
    async def test_then_credentials_must_be_present(self, app_id: object, app_key: object) -> None:
        with pytest.raises(MissingAppCredentials):
            await Harness().internal_logout_all()(
                call=InternalCall(user_id=1, app_id=app_id, app_key=app_key, peer="p")
            )

    @pytest.mark.parametrize(
        ("app_id", "app_key"),
        [
            (APP_ID, "wrong"),
            ("wrong", APP_KEY),
            (APP_ID, APP_KEY + "x"),
            (APP_ID, "ключ"),
            (APP_KEY, APP_ID),
        ],
    )
    async def test_then_credentials_must_match(self, app_id: str, app_key: str) -> None:
        with pytest.raises(InvalidAppCredentials):
            await Harness().internal_logout_all()(
                call=InternalCall(user_id=1, app_id=app_id, app_key=app_key, peer="p")
            )

    async def test_throttles_a_peer_after_repeated_failures_but_not_others(self) -> None:
        harness = Harness(max_failures=3)
        use_case = harness.internal_logout_all()
        for _ in range(3):
            with pytest.raises(InvalidAppCredentials) as failure:
                await use_case(
                    call=InternalCall(user_id=1, app_id=APP_ID, app_key="guess", peer="attacker")
                )
            assert not isinstance(failure.value, Throttled)
        with pytest.raises(Throttled) as throttled:
            await use_case(
                call=InternalCall(user_id=1, app_id=APP_ID, app_key=APP_KEY, peer="attacker")
            )
        assert 0 < throttled.value.retry_after_seconds <= 60
        await use_case(
            call=InternalCall(user_id=1, app_id=APP_ID, app_key=APP_KEY, peer="laravel")
        )  # not throttled
        harness.clock.advance(61)
        await use_case(
            call=InternalCall(user_id=1, app_id=APP_ID, app_key=APP_KEY, peer="attacker")
        )
