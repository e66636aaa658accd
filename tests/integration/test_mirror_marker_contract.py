"""One contract for the "mirror complete" marker: in memory, and in the real Redis."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from revocation.adapters.memory import InMemoryMirrorMarker
from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.client import KeyLayout, RedisFailures
from revocation.adapters.redis.mirror_marker import RedisMirrorMarker, RepairWitness
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry, Watermark
from revocation.domain.ports import MirrorMarker
from tests.integration.redis_processes import start_redis
from tests.random_refs import random_key, random_user_id


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


@pytest.mark.redis
async def test_a_bucket_whose_writes_another_node_took_is_not_done(
    redis_url: str, tmp_path: Path
) -> None:
    """As when a repair's writes go through a connection still open to a deposed primary (or a
    stale slot map) while its marker is on the new one: that node lacks them."""
    keys = KeyLayout(prefix=b"test%s" % secrets.token_hex(4).encode())
    witness = RepairWitness(functools.partial(keys.marker_of, full=True))
    markers = keys.markers(full=True)
    other = start_redis(tmp_path)  # another node
    here, there = Redis.from_url(redis_url), Redis(port=other.port)
    try:
        marker = RedisMirrorMarker(here, RedisFailures(), markers=markers, witness=witness)
        astray = RedisBlacklist(
            there, RedisFailures(), keys=keys, full_mirror=True, witness=witness
        )
        ticket = await marker.begin()
        await astray.add([BlacklistEntry(random_key(), 600)])
        assert not await marker.complete(ticket)
        assert not await marker.is_complete()

        home = RedisBlacklist(here, RedisFailures(), keys=keys, full_mirror=True, witness=witness)
        ticket = await marker.begin()
        await home.add([BlacklistEntry(random_key(), 600)])
        await home.raise_watermark(Watermark(random_user_id(), time.time()), 600)
        assert await marker.complete(ticket)
        assert await marker.is_complete()
    finally:
        await here.delete(*markers, *[key async for key in here.scan_iter(keys.prefix + b"*")])
        await here.aclose()
        await there.aclose()
        other.kill()
