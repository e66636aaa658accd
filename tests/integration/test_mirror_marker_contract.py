"""One contract for the "mirror complete" marker: in memory, and in the real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from revocation.adapters.memory import InMemoryMirrorMarker
from revocation.adapters.redis.client import RedisFailures
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
    key = f"test:mirror:{secrets.token_hex(8)}".encode()  # the shared Redis: a key of its own
    try:
        yield Subject(
            RedisMirrorMarker(client, RedisFailures(), key=key), lambda: client.delete(key)
        )
    finally:
        await client.delete(key)
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
        with pytest.raises(BlacklistUnavailable):
            await RedisMirrorMarker(client, RedisFailures(), key=b"rv:mirror:x").is_complete()
    finally:
        await client.aclose()
