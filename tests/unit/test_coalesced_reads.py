"""Reads asked for in one turn of the event loop go to Redis as one, each answered as its own."""

from __future__ import annotations

import asyncio

import pytest

from revocation.adapters.redis import coalesced_reads
from revocation.adapters.redis.client import Identities
from revocation.adapters.redis.coalesced_reads import CoalescedReads
from revocation.domain.errors import BlacklistUnavailable


class FakeRedis:
    """Values by key, each served by the node its first letter names; counts the calls."""

    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []
        self.failing = False

    async def read_identified(self, keys: list[bytes]) -> tuple[list[bytes | None], Identities]:
        self.calls.append(keys)
        await asyncio.sleep(0)  # a round trip
        if self.failing:
            raise BlacklistUnavailable("redis: down")
        values = [None if key.startswith(b"absent") else b"v-" + key for key in keys]
        return values, {key: b"node-" + key[:1] for key in keys}


async def test_reads_of_one_turn_share_one_call_and_get_their_own_answers() -> None:
    redis = FakeRedis()
    reads = CoalescedReads(redis.read_identified)
    first, second = await asyncio.gather(reads.read([b"a1", b"absent"]), reads.read([b"b2"]))
    assert redis.calls == [[b"a1", b"absent", b"b2"]]
    assert first == ([b"v-a1", None], {b"a1": b"node-a", b"absent": b"node-a"})
    assert second == ([b"v-b2"], {b"b2": b"node-b"})


async def test_a_key_asked_twice_is_read_once() -> None:
    redis = FakeRedis()
    reads = CoalescedReads(redis.read_identified)
    first, second = await asyncio.gather(reads.read([b"a1", b"w"]), reads.read([b"a2", b"w"]))
    assert redis.calls == [[b"a1", b"w", b"a2"]]
    assert (first[0], second[0]) == ([b"v-a1", b"v-w"], [b"v-a2", b"v-w"])


async def test_reads_of_later_turns_are_sent_on_their_own() -> None:
    redis = FakeRedis()
    reads = CoalescedReads(redis.read_identified)
    await reads.read([b"a1"])
    await reads.read([b"a2"])
    assert redis.calls == [[b"a1"], [b"a2"]]


async def test_a_full_batch_goes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coalesced_reads, "MAX_BATCH", 2)
    redis = FakeRedis()
    reads = CoalescedReads(redis.read_identified)
    answers = await asyncio.gather(*(reads.read([f"k{n}".encode()]) for n in range(5)))
    assert redis.calls == [[b"k0", b"k1"], [b"k2", b"k3"], [b"k4"]]
    assert [values for values, _ in answers] == [[f"v-k{n}".encode()] for n in range(5)]


async def test_a_failure_reaches_every_reader_of_its_batch_and_no_later_one() -> None:
    redis = FakeRedis()
    reads = CoalescedReads(redis.read_identified)
    redis.failing = True
    failed = await asyncio.gather(reads.read([b"a"]), reads.read([b"b"]), return_exceptions=True)
    assert [type(error) for error in failed] == [BlacklistUnavailable, BlacklistUnavailable]
    redis.failing = False
    assert await reads.read([b"a"]) == ([b"v-a"], {b"a": b"node-a"})


async def test_a_reader_that_gave_up_leaves_the_others_their_answers() -> None:
    redis = FakeRedis()
    reads = CoalescedReads(redis.read_identified)
    impatient = asyncio.create_task(reads.read([b"a"]))
    patient = asyncio.create_task(reads.read([b"b"]))
    await asyncio.sleep(0)  # both asked; the batch is on its way
    impatient.cancel()
    assert await patient == ([b"v-b"], {b"b": b"node-b"})
    assert impatient.cancelled()


class OneNodeDown(FakeRedis):
    """A Cluster whose node `b` fails: a read with any of its keys fails as a whole."""

    async def read_identified(self, keys: list[bytes]) -> tuple[list[bytes | None], Identities]:
        if any(key.startswith(b"b") for key in keys):
            self.calls.append(keys)
            await asyncio.sleep(0)
            raise BlacklistUnavailable("redis: node b is down")
        return await super().read_identified(keys)


async def test_on_a_cluster_one_node_down_fails_only_the_reads_of_its_keys() -> None:
    redis = OneNodeDown()
    reads = CoalescedReads(redis.read_identified, isolate_failures=True)
    healthy, broken = await asyncio.gather(
        reads.read([b"a1"]), reads.read([b"b1"]), return_exceptions=True
    )
    assert healthy == ([b"v-a1"], {b"a1": b"node-a"})
    assert isinstance(broken, BlacklistUnavailable)
    assert redis.calls == [[b"a1", b"b1"], [b"a1"], [b"b1"]]


async def test_on_one_redis_a_failed_read_is_not_tried_again() -> None:
    redis = OneNodeDown()
    reads = CoalescedReads(redis.read_identified)
    answers = await asyncio.gather(reads.read([b"a1"]), reads.read([b"b1"]), return_exceptions=True)
    assert all(isinstance(answer, BlacklistUnavailable) for answer in answers)
    assert redis.calls == [[b"a1", b"b1"]]


async def test_an_answer_that_cannot_be_matched_fails_its_readers_instead_of_leaving_them() -> None:
    async def short(keys: list[bytes]) -> tuple[list[bytes | None], Identities]:
        return [], {}  # a reply out of step with what was asked

    reads = CoalescedReads(short)
    with pytest.raises(ValueError, match="zip"):
        await asyncio.wait_for(reads.read([b"a"]), 1)


async def test_on_a_cluster_reads_tried_again_go_a_few_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(coalesced_reads, "MAX_RETRIES_AT_ONCE", 2)
    redis, at_once, most = OneNodeDown(), 0, 0
    inner = redis.read_identified

    async def counting(keys: list[bytes]) -> tuple[list[bytes | None], Identities]:
        nonlocal at_once, most
        at_once += 1
        most = max(most, at_once)
        try:
            return await inner(keys)
        finally:
            at_once -= 1

    reads = CoalescedReads(counting, isolate_failures=True)
    asked = [reads.read([b"b0"])] + [reads.read([f"a{n}".encode()]) for n in range(6)]
    answers = await asyncio.gather(*asked, return_exceptions=True)
    assert isinstance(answers[0], BlacklistUnavailable)
    assert answers[1:] == [([f"v-a{n}".encode()], {f"a{n}".encode(): b"node-a"}) for n in range(6)]
    assert most == 2
