"""The plugin's fixtures (no conftest needed): the real app in memory, tokens, a movable clock."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.adapters.clock import ManualClock
from revocation.entrypoints.containers import Container
from revocation.entrypoints.periodic import purge_once
from revocation.testing.plugin import TokenFactory


@pytest.mark.asyncio
async def test_a_logged_out_token_is_refused(
    revocation_app: Litestar, revocation_token: TokenFactory
) -> None:
    token = await revocation_token(user_id=42, device="laptop")
    headers = {"Authorization": f"Bearer {token}"}
    async with AsyncTestClient(app=revocation_app) as client:
        assert (await client.get("/api/v2/auth/verify", headers=headers)).status_code == 200
        assert (await client.post("/api/v2/logout", headers=headers)).status_code == 200
        assert (await client.get("/api/v2/auth/verify", headers=headers)).status_code == 401


@pytest.mark.asyncio
async def test_expired_logs_are_purged_once_the_clock_passes_them(
    revocation_container: Container, revocation_token: TokenFactory, revocation_clock: ManualClock
) -> None:
    await revocation_token(user_id=42)
    token_log, leeway = revocation_container.token_log(), 10

    assert await purge_once(token_log, revocation_clock, leeway=leeway, batch_size=100) == 0
    revocation_clock.advance(3600 + leeway + 1)  # past the token's lifetime and the leeway
    assert await purge_once(token_log, revocation_clock, leeway=leeway, batch_size=100) == 1
