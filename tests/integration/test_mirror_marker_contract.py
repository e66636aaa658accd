"""One contract for the "mirror complete" marker: in memory, and in the real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from revocation.adapters.memory import InMemoryMirrorMarker
from revocation.adapters.redis.client import KeyLayout, RedisFailures
from revocation.adapters.redis.mirror_marker import RedisMirrorMarker
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.ports import MirrorMarker


@dataclass
class Subject:
    marker: MirrorMarker
    reset: Callable[[], Awaitable[object]]  # what a Redis restart or flush does to the marker


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "memory":
        memory = InMemoryMirrorMarker()

        async def forget() -> None:
            memory.reset()

        yield Subject(memory, forget)
        return
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    # The shared Redis: markers of a prefix of their own.
    markers = KeyLayout(prefix=b"test%s" % secrets.token_hex(4).encode()).markers(full=True)
    try:
        marker = RedisMirrorMarker(client, RedisFailures(), markers=markers)
        yield Subject(marker, lambda: client.delete(*markers))
    finally:
        await client.delete(*markers)
        await client.aclose()


async def test_is_incomplete_until_a_repair_completes(subject: Subject) -> None:
    assert not await subject.marker.is_complete()
    ticket = await subject.marker.begin()
    assert not await subject.marker.is_complete()

    assert await subject.marker.complete(ticket)
    assert await subject.marker.is_complete()


async def test_a_reset_during_the_repair_refuses_completion(subject: Subject) -> None:
    ticket = await subject.marker.begin()
    await subject.reset()

    assert not await subject.marker.complete(ticket)
    assert not await subject.marker.is_complete()


async def test_only_the_latest_repair_may_complete(subject: Subject) -> None:
    earlier = await subject.marker.begin()
    later = await subject.marker.begin()

    assert not await subject.marker.complete(earlier)
    assert await subject.marker.complete(later)


async def test_a_complete_mirror_becomes_incomplete_when_reset(subject: Subject) -> None:
    await subject.marker.complete(await subject.marker.begin())
    await subject.reset()

    assert not await subject.marker.is_complete()


async def test_an_unreachable_redis_is_unavailable() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        markers = KeyLayout().markers(full=True)
        with pytest.raises(BlacklistUnavailable):
            await RedisMirrorMarker(client, RedisFailures(), markers=markers).is_complete()
    finally:
        await client.aclose()


async def test_only_the_node_a_repair_completed_on_vouches(redis_url: str) -> None:
    """A marker stamped by another node (a promoted replica copied it, a restarted node had
    it in a snapshot, a slot moved with it) vouches for nothing."""
    client = Redis.from_url(redis_url)
    keys = KeyLayout(prefix=b"test%s" % secrets.token_hex(4).encode())
    markers = keys.markers(full=True)
    try:
        marker = RedisMirrorMarker(client, RedisFailures(), markers=markers)
        assert await marker.complete(await marker.begin())
        assert await marker.is_complete()
        await client.set(markers[7], b"done:" + b"0" * 40)  # as another node stamped it
        assert not await marker.is_complete()
        assert not await marker.complete(await marker.begin() + "x")  # a stale ticket
    finally:
        await client.delete(*markers)
        await client.aclose()


async def test_a_ticket_stamped_by_another_node_is_never_completed(redis_url: str) -> None:
    """The repair began on one primary and the buckets now sit on another (a failover or a
    migration copied the tickets): completing there would vouch for writes that went
    elsewhere."""
    client = Redis.from_url(redis_url)
    keys = KeyLayout(prefix=b"test%s" % secrets.token_hex(4).encode())
    markers = keys.markers(full=True)
    try:
        marker = RedisMirrorMarker(client, RedisFailures(), markers=markers)
        ticket = await marker.begin()
        await client.set(markers[0], f"pending:{ticket}:{'0' * 40}")
        assert not await marker.complete(ticket)
        assert await client.get(markers[0]) == f"pending:{ticket}:{'0' * 40}".encode()
    finally:
        await client.delete(*markers)
        await client.aclose()
