from __future__ import annotations

import pytest

from revocation.domain.errors import TokenLogUnavailable
from tests.fakes import DownTokenLog
from tests.unit.harness import TTL, Harness


class TestIssueToken:
    async def test_logs_the_token_before_handing_it_out(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=8, device="Pixel 9")
        claims = harness.codec.verify(issued.token)
        state = await harness.token_log.lookup(claims.key, 8)
        assert state.record is not None
        assert state.record.device == "Pixel 9"
        assert state.record.issued_at == harness.clock.now()
        assert claims.expires_at == claims.issued_at + TTL

    async def test_gives_every_token_its_own_jti(self) -> None:
        harness = Harness()
        keys = {(await harness.issue_token()(user_id=8)).record.key for _ in range(50)}
        assert len(keys) == 50

    async def test_hands_out_nothing_when_the_log_is_down(self) -> None:
        harness = Harness(token_log=DownTokenLog())
        with pytest.raises(TokenLogUnavailable):
            await harness.issue_token()(user_id=8)
