"""What every Blacklist (the fast, expiring layer) must do, through the port alone.

Subclass `BlacklistContract` in a test module and give it a `blacklist` fixture returning your
adapter: every test below runs against it (docs/testing.md).
"""

from __future__ import annotations

import pytest

from revocation.domain.model import BlacklistEntry, Watermark
from revocation.domain.ports import Blacklist
from revocation.testing.contract_values import NOW, random_key, random_user_id

DAY = 86_400


class BlacklistContract:
    pytestmark = pytest.mark.asyncio

    async def test_an_unknown_token_is_not_blocked_and_has_no_watermark(
        self, blacklist: Blacklist
    ) -> None:
        state = await blacklist.lookup(random_key(), random_user_id())
        assert not state.token_blocked
        assert state.watermark is None

    async def test_an_added_token_is_blocked_for_every_user(self, blacklist: Blacklist) -> None:
        key = random_key()
        await blacklist.add([BlacklistEntry(key, DAY)])
        assert (await blacklist.lookup(key, random_user_id())).token_blocked

    async def test_users_do_not_see_each_others_watermarks(self, blacklist: Blacklist) -> None:
        user = random_user_id()
        await blacklist.raise_watermark(Watermark(user, NOW), DAY)
        assert (await blacklist.lookup(random_key(), random_user_id())).watermark is None

    async def test_a_watermark_keeps_microseconds(self, blacklist: Blacklist) -> None:
        user = random_user_id()
        await blacklist.raise_watermark(Watermark(user, NOW + 0.123456), DAY)
        state = await blacklist.lookup(random_key(), user)
        assert state.watermark == Watermark(user, NOW + 0.123456)

    async def test_a_watermark_only_rises(self, blacklist: Blacklist) -> None:
        user = random_user_id()
        await blacklist.raise_watermark(Watermark(user, NOW + 100), DAY)
        await blacklist.raise_watermark(Watermark(user, NOW), DAY)
        assert (await blacklist.lookup(random_key(), user)).watermark == Watermark(user, NOW + 100)
        await blacklist.raise_watermark(Watermark(user, NOW + 200), DAY)
        assert (await blacklist.lookup(random_key(), user)).watermark == Watermark(user, NOW + 200)

    async def test_revoking_blocks_once_the_write_inside_succeeded(
        self, blacklist: Blacklist
    ) -> None:
        key = random_key()
        async with blacklist.revoking([BlacklistEntry(key, DAY)]):
            assert not (await blacklist.lookup(key, random_user_id())).token_blocked
        assert (await blacklist.lookup(key, random_user_id())).token_blocked

    async def test_revoking_blocks_nothing_when_the_write_inside_failed(
        self, blacklist: Blacklist
    ) -> None:
        key = random_key()
        with pytest.raises(RuntimeError):
            async with blacklist.revoking([BlacklistEntry(key, DAY)]):
                raise RuntimeError("the durable write failed")
        assert not (await blacklist.lookup(key, random_user_id())).token_blocked
