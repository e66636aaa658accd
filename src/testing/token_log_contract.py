"""What every TokenLog (the durable truth: logged tokens and watermarks) must do, through the
port alone.

Subclass `TokenLogContract` in a test module and give it a `token_log` fixture returning your
adapter, on a migrated, empty or shared database: every test below runs against it
(docs/testing.md).
"""

from __future__ import annotations

import pytest

from revocation.domain.model import Watermark
from revocation.domain.ports import TokenLog
from revocation.testing.contract_values import (
    HOUR,
    LOGOUT,
    LOGOUT_ALL,
    NOW,
    random_key,
    random_user_id,
    token_record,
)


class TokenLogContract:
    pytestmark = pytest.mark.asyncio

    async def test_a_recorded_token_is_found_unblocked(self, token_log: TokenLog) -> None:
        record = token_record(random_user_id())
        await token_log.record(record)
        state = await token_log.lookup(record.key, record.user_id)
        assert state.record is not None
        assert (state.record.key, state.record.user_id) == (record.key, record.user_id)
        assert not state.record.is_blocked
        assert state.watermark is None

    async def test_an_unknown_token_has_no_row(self, token_log: TokenLog) -> None:
        assert (await token_log.lookup(random_key(), random_user_id())).record is None

    async def test_block_is_idempotent_and_says_which_call_blocked(
        self, token_log: TokenLog
    ) -> None:
        record = token_record(random_user_id())
        await token_log.record(record)
        assert await token_log.block(record, NOW + 1, LOGOUT)
        assert not await token_log.block(record, NOW + 2, LOGOUT)
        state = await token_log.lookup(record.key, record.user_id)
        assert state.record is not None
        assert state.record.is_blocked

    async def test_blocking_a_token_never_logged_inserts_it_blocked(
        self, token_log: TokenLog
    ) -> None:
        record = token_record(random_user_id())
        assert await token_log.block(record, NOW + 1, LOGOUT)
        state = await token_log.lookup(record.key, record.user_id)
        assert state.record is not None
        assert state.record.is_blocked

    async def test_a_watermark_only_rises(self, token_log: TokenLog) -> None:
        user = random_user_id()
        await token_log.raise_watermark(Watermark(user, NOW + 100), LOGOUT_ALL)
        await token_log.raise_watermark(Watermark(user, NOW), LOGOUT_ALL)
        state = await token_log.lookup(random_key(), user)
        assert state.watermark == Watermark(user, NOW + 100)

    async def test_revoke_all_blocks_the_tokens_issued_before_it(self, token_log: TokenLog) -> None:
        user = random_user_id()
        older, newer = token_record(user, NOW), token_record(user, NOW + 10)
        for record in (older, newer):
            await token_log.record(record)
        assert await token_log.revoke_all(Watermark(user, NOW + 5)) == 1
        older_state = await token_log.lookup(older.key, user)
        newer_state = await token_log.lookup(newer.key, user)
        assert older_state.record is not None
        assert older_state.record.is_blocked
        assert newer_state.record is not None
        assert not newer_state.record.is_blocked
        assert older_state.watermark == Watermark(user, NOW + 5)

    async def test_active_sessions_are_the_unblocked_unexpired_ones_newest_first(
        self, token_log: TokenLog
    ) -> None:
        user = random_user_id()
        first, second = token_record(user, NOW), token_record(user, NOW + 10)
        blocked, expired = token_record(user, NOW + 20), token_record(user, NOW - 2 * HOUR)
        for record in (first, second, blocked, expired):
            await token_log.record(record)
        await token_log.block(blocked, NOW + 30, LOGOUT)
        sessions = await token_log.active_sessions(user, NOW + 60)
        assert [session.key for session in sessions] == [second.key, first.key]

    async def test_purge_deletes_expired_rows_a_batch_at_a_time(self, token_log: TokenLog) -> None:
        user = random_user_id()
        long_ago = 1_000_000_000.0  # 2001: a shared database's other rows are younger
        expired = [token_record(user, long_ago - n) for n in range(3)]
        for record in expired:
            await token_log.record(record)
        assert await token_log.purge_expired(long_ago + 2 * HOUR, 2) == 2  # a batch at most
        while await token_log.purge_expired(long_ago + 2 * HOUR, 2):
            pass
        for record in expired:
            assert (await token_log.lookup(record.key, user)).record is None
