"""RepairBlacklist: what a Redis that lost writes gets back from the token log."""

from __future__ import annotations

from collections.abc import Sequence

from revocation.adapters.memory import InMemoryBlacklist, InMemoryMirrorMarker
from revocation.domain.model import BlacklistEntry, TokenRecord, Watermark
from revocation.domain.use_cases.repair_blacklist import RepairBlacklist, RepairReport
from tests.fakes import DownBlacklist
from tests.random_refs import random_key, random_user_id
from tests.revocations import LOGOUT
from tests.unit.harness import LEEWAY, MAX_BLACKLIST_TTL, Harness


class CountingBlacklist(InMemoryBlacklist):
    """An in-memory blacklist that counts its round trips (one per add / raise_watermark)."""

    round_trips = 0

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        self.round_trips += 1
        await super().add(entries)


class ResettingBlacklist(InMemoryBlacklist):
    """Plays a Redis restart in the middle of a repair's first write."""

    def __init__(self, harness: Harness, marker: InMemoryMirrorMarker) -> None:
        super().__init__(harness.clock)
        self.marker = marker

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        self.marker.reset()
        await super().add(entries)


def repair(
    harness: Harness,
    blacklist: InMemoryBlacklist,
    batch_size: int = 500,
    marker: InMemoryMirrorMarker | None = None,
) -> RepairBlacklist:
    return RepairBlacklist(
        token_log=harness.token_log,
        blacklist=blacklist,
        marker=marker or InMemoryMirrorMarker(),
        clock=harness.clock,
        policy=harness.policy,
        batch_size=batch_size,
    )


async def blocked_token(harness: Harness, *, expires_in: float) -> TokenRecord:
    now = harness.clock.now()
    record = TokenRecord(random_key(), random_user_id(), now - 60, now + expires_in)
    await harness.token_log.record(record)
    await harness.token_log.block(record, blocked_at=now, revocation=LOGOUT)
    return record


class TestRepairBlacklist:
    async def test_repushes_every_block_a_down_redis_missed(self) -> None:
        harness = Harness(blacklist=DownBlacklist())
        issued = await harness.issue_token()(user_id=random_user_id())
        await harness.logout()(
            claims=harness.codec.verify(issued.token), revocation=LOGOUT
        )  # Redis write lost
        empty = InMemoryBlacklist(harness.clock)

        report = await repair(harness, empty)()

        state = await empty.lookup(issued.record.key, issued.record.user_id)
        assert state.token_blocked
        assert report == RepairReport(tokens=1, watermarks=0, complete=True)

    async def test_skips_tokens_expired_beyond_the_leeway_but_keeps_those_within(self) -> None:
        harness = Harness()
        gone = await blocked_token(harness, expires_in=-LEEWAY - 1)
        within_leeway = await blocked_token(harness, expires_in=-LEEWAY + 1)
        fresh = InMemoryBlacklist(harness.clock)

        await repair(harness, fresh)()

        assert not (await fresh.lookup(gone.key, gone.user_id)).token_blocked
        assert (await fresh.lookup(within_leeway.key, within_leeway.user_id)).token_blocked
        harness.clock.advance(1.5)  # the entry lives exactly the rest of the token's leeway
        assert not (await fresh.lookup(within_leeway.key, within_leeway.user_id)).token_blocked

    async def test_repushes_live_watermarks_only_and_never_lowers_one(self) -> None:
        harness = Harness()
        now = harness.clock.now()
        life = MAX_BLACKLIST_TTL + LEEWAY
        recent, stale, newer = random_user_id(), random_user_id(), random_user_id()
        for user_id, at in ((recent, now - 10), (stale, now - life - 1), (newer, now - 5)):
            await harness.token_log.revoke_all(Watermark(user_id, at))
        fresh = InMemoryBlacklist(harness.clock)
        await fresh.raise_watermark(Watermark(newer, now), 60)

        report = await repair(harness, fresh)()

        assert (await fresh.lookup(random_key(), recent)).watermark == Watermark(recent, now - 10)
        assert (await fresh.lookup(random_key(), stale)).watermark is None
        assert (await fresh.lookup(random_key(), newer)).watermark == Watermark(newer, now)
        assert report.watermarks == 2

    async def test_pushes_in_batches_one_round_trip_each(self) -> None:
        harness = Harness()
        records = [await blocked_token(harness, expires_in=600) for _ in range(5)]
        counting = CountingBlacklist(harness.clock)

        report = await repair(harness, counting, batch_size=2)()

        assert counting.round_trips == 3
        assert report.tokens == 5
        for record in records:
            assert (await counting.lookup(record.key, record.user_id)).token_blocked

    async def test_marks_the_mirror_complete_only_if_redis_kept_everything(self) -> None:
        harness = Harness()
        await blocked_token(harness, expires_in=600)
        kept, reset = InMemoryMirrorMarker(), InMemoryMirrorMarker()

        whole = await repair(harness, InMemoryBlacklist(harness.clock), marker=kept)()
        cut = await repair(harness, ResettingBlacklist(harness, reset), marker=reset)()

        assert (whole.complete, await kept.is_complete()) == (True, True)
        assert (cut.complete, await reset.is_complete()) == (False, False)
