"""The Blacklist contract, run alike against every implementation: InMemoryBlacklist,
RedisBlacklist (one Redis and a Cluster) and LocallyCachedBlacklist (real tracking).

Time-to-live is checked on the fake by moving its clock and on Redis through a side door (PTTL),
so nothing sleeps. Random user ids keep tests apart on the shared Redis; nothing is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from asyncio import StreamReader, StreamWriter
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

import pytest
from redis.asyncio import Connection, Redis
from redis.crc import key_slot

from revocation.adapters.clock import ManualClock
from revocation.adapters.memory import InMemoryBlacklist
from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.cached_blacklist import LocallyCachedBlacklist
from revocation.adapters.redis.client import (
    BLOCKED,
    KeyLayout,
    RedisClient,
    RedisFailures,
    build_redis_client,
)
from revocation.adapters.redis.tracking import FixedPrimary, TrackingListener
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import BlacklistEntry, LoggedEntry, LoggedMark, TokenKey, Watermark
from revocation.domain.ports import Blacklist
from tests.integration.servers import redis_options
from tests.random_refs import random_key, random_user_id

DAY = 86_400
LEASE = 0.025


class Harness(Protocol):
    """A blacklist, plus a way to check how long its entries live."""

    @property
    def blacklist(self) -> Blacklist: ...

    async def assert_token_lives(self, key: TokenKey, user_id: int, seconds: int) -> None: ...

    async def assert_watermark_lives(self, user_id: int, seconds: int) -> None: ...


class MemoryHarness:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.blacklist = InMemoryBlacklist(self.clock)

    async def assert_token_lives(self, key: TokenKey, user_id: int, seconds: int) -> None:
        self.clock.advance(seconds - 0.001)
        assert (await self.blacklist.lookup(key, user_id)).token_blocked
        self.clock.advance(0.001)
        assert not (await self.blacklist.lookup(key, user_id)).token_blocked

    async def assert_watermark_lives(self, user_id: int, seconds: int) -> None:
        self.clock.advance(seconds - 0.001)
        assert (await self.blacklist.lookup(random_key(), user_id)).watermark is not None
        self.clock.advance(0.001)
        assert (await self.blacklist.lookup(random_key(), user_id)).watermark is None


class RedisHarness:
    def __init__(
        self, client: RedisClient, blacklist: Blacklist | None = None, *, full: bool = False
    ) -> None:
        self.raw = client
        self.keys = RedisBlacklist(client, RedisFailures(), full_mirror=full)
        # Not `blacklist or ...`: an empty local cache is falsy (it has a length).
        self.blacklist = self.keys if blacklist is None else blacklist

    async def assert_token_lives(self, key: TokenKey, user_id: int, seconds: int) -> None:
        await self._assert_pttl(self.keys.keys.token_key(key), seconds)

    async def assert_watermark_lives(self, user_id: int, seconds: int) -> None:
        await self._assert_pttl(self.keys.keys.watermark_key(user_id), seconds)

    async def _assert_pttl(self, key: bytes, seconds: int) -> None:
        assert seconds * 1000 - 2000 < await self.raw.pttl(key) <= seconds * 1000


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = build_redis_client(redis_url, redis_options(2))
    yield client
    await client.aclose()


@pytest.fixture
async def tracked_redis(redis_url: str) -> AsyncIterator[tuple[Redis, LocallyCachedBlacklist]]:
    """The local cache on the shared Redis, its tracking connection up and its lease valid."""
    async with tracked(redis_url, full=False) as pair:
        yield pair


@pytest.fixture
async def tracked_full_redis(
    redis_url: str,
) -> AsyncIterator[tuple[Redis, LocallyCachedBlacklist]]:
    """The same, reading the full mirror's keys (where checks take the fast layer's word)."""
    async with tracked(redis_url, full=True) as pair:
        yield pair


@contextlib.asynccontextmanager
async def tracked(
    redis_url: str, *, full: bool
) -> AsyncIterator[tuple[Redis, LocallyCachedBlacklist]]:
    client = build_redis_client(redis_url, redis_options(2))
    listener = TrackingListener(
        redis_url,
        RedisFailures(),
        primary=FixedPrimary(redis_url),
        prefixes=KeyLayout().tracked_prefixes,
        lease_seconds=LEASE,
    )
    cached = LocallyCachedBlacklist(
        RedisBlacklist(client, RedisFailures(), full_mirror=full), listener, lease_seconds=LEASE
    )
    await listener.start()
    try:
        async with asyncio.timeout(5):
            while not listener.lease_valid():  # noqa: ASYNC110 - a lease to poll, no event
                await asyncio.sleep(0.005)
        yield client, cached
    finally:
        await listener.stop()
        await client.aclose()


HARNESSES = [
    "memory",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis_cluster", marks=pytest.mark.redis),  # three masters, see conftest
    pytest.param("local", marks=pytest.mark.redis),  # the default with one Redis
]


@pytest.fixture(params=HARNESSES)
def harness(request: pytest.FixtureRequest) -> Harness:
    return _harness(request, full=False)


@pytest.fixture(params=HARNESSES)
def full_harness(request: pytest.FixtureRequest) -> Harness:
    """Where checks take the fast layer's word: lookups also read the markers and marks."""
    return _harness(request, full=True)


def _harness(request: pytest.FixtureRequest, *, full: bool) -> Harness:
    # Servers are asked for here, not in the signature, so the in-memory half runs without.
    if request.param == "memory":
        return MemoryHarness()
    if request.param == "local":
        tracked_fixture = "tracked_full_redis" if full else "tracked_redis"
        client, cached = request.getfixturevalue(tracked_fixture)
        return RedisHarness(client, cached)
    client = request.getfixturevalue(f"{request.param}_client")
    return RedisHarness(client, full=full)


def entry(key: TokenKey, user_id: int, ttl: int = DAY) -> BlacklistEntry:
    return BlacklistEntry(key=key, ttl_seconds=ttl)


class TestLookup:
    async def test_unknown_token_is_not_blocked_and_has_no_watermark(
        self, harness: Harness
    ) -> None:
        state = await harness.blacklist.lookup(random_key(), random_user_id())

        assert not state.token_blocked
        assert state.watermark is None

    async def test_a_blocked_pair_is_blocked_for_every_user(self, harness: Harness) -> None:
        # A jti reused across users is the issuer's bug: the block refuses every token with it.
        key = random_key()
        await harness.blacklist.add([entry(key, random_user_id())])

        assert (await harness.blacklist.lookup(key, random_user_id())).token_blocked

    async def test_users_do_not_see_each_others_entries_or_watermarks(
        self, harness: Harness
    ) -> None:
        user, other = random_user_id(), random_user_id()
        await harness.blacklist.add([entry(random_key(), user)])
        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_000.0), DAY)

        state = await harness.blacklist.lookup(random_key(), other)

        assert not state.token_blocked
        assert state.watermark is None


class TestAdd:
    async def test_added_token_is_blocked(self, harness: Harness) -> None:
        key, user = random_key(), random_user_id()

        await harness.blacklist.add([entry(key, user)])

        assert (await harness.blacklist.lookup(key, user)).token_blocked

    async def test_entry_lives_exactly_its_ttl(self, harness: Harness) -> None:
        key, user = random_key(), random_user_id()

        await harness.blacklist.add([entry(key, user, ttl=90)])

        await harness.assert_token_lives(key, user, 90)

    @pytest.mark.parametrize("ttl", [0, -5])
    async def test_entry_without_time_left_is_skipped(self, harness: Harness, ttl: int) -> None:
        key, kept, user = random_key(), random_key(), random_user_id()

        await harness.blacklist.add([entry(key, user, ttl=ttl), entry(kept, user)])

        assert not (await harness.blacklist.lookup(key, user)).token_blocked
        assert (await harness.blacklist.lookup(kept, user)).token_blocked

    async def test_thousand_entries_are_all_blocked(self, harness: Harness) -> None:
        user = random_user_id()
        keys = [random_key() for _ in range(1000)]

        await harness.blacklist.add([entry(key, user) for key in keys])

        for key in keys[::97]:
            assert (await harness.blacklist.lookup(key, user)).token_blocked

    @pytest.mark.parametrize(
        ("blocked", "lookalike"),
        [(TokenKey("a|b", "c"), TokenKey("a", "b|c")), (TokenKey("ab", "c"), TokenKey("a", "bc"))],
    )
    async def test_issuer_and_jti_boundary_is_kept(
        self, harness: Harness, blocked: TokenKey, lookalike: TokenKey
    ) -> None:
        user = random_user_id()

        await harness.blacklist.add([entry(blocked, user)])

        assert not (await harness.blacklist.lookup(lookalike, user)).token_blocked


class TestRaiseWatermark:
    async def test_sets_a_watermark_that_lives_its_ttl(self, harness: Harness) -> None:
        user = random_user_id()

        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_000.5), 120)

        state = await harness.blacklist.lookup(random_key(), user)
        assert state.watermark == Watermark(user, 1_800_000_000.5)
        await harness.assert_watermark_lives(user, 120)

    async def test_lower_watermark_changes_nothing(self, harness: Harness) -> None:
        user = random_user_id()
        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_100.0), 120)

        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_000.0), DAY)

        state = await harness.blacklist.lookup(random_key(), user)
        assert state.watermark == Watermark(user, 1_800_000_100.0)
        await harness.assert_watermark_lives(user, 120)

    async def test_higher_watermark_replaces_it(self, harness: Harness) -> None:
        user = random_user_id()
        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_000.0), 120)

        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_100.0), 300)

        state = await harness.blacklist.lookup(random_key(), user)
        assert state.watermark == Watermark(user, 1_800_000_100.0)
        await harness.assert_watermark_lives(user, 300)

    async def test_keeps_microseconds(self, harness: Harness) -> None:
        user = random_user_id()
        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_000.123456), DAY)
        first = await harness.blacklist.lookup(random_key(), user)

        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_000.123457), DAY)

        second = await harness.blacklist.lookup(random_key(), user)
        assert first.watermark == Watermark(user, 1_800_000_000.123456)
        assert second.watermark == Watermark(user, 1_800_000_000.123457)

    async def test_watermark_without_time_left_is_not_set(self, harness: Harness) -> None:
        user = random_user_id()

        await harness.blacklist.raise_watermark(Watermark(user, 1_800_000_000.0), 0)

        assert (await harness.blacklist.lookup(random_key(), user)).watermark is None


class TestNoteLogged:
    async def test_a_noted_token_reads_logged_with_its_user_and_exact_issue_time(
        self, full_harness: Harness
    ) -> None:
        harness = full_harness
        key, user, issued_at = random_key(), random_user_id(), 1_800_000_000.123457
        assert (await harness.blacklist.lookup(key, user)).logged is None
        await harness.blacklist.note_logged([LoggedEntry(key, LoggedMark(user, issued_at), DAY)])
        state = await harness.blacklist.lookup(key, user)
        assert state.logged == LoggedMark(user, issued_at)  # bit for bit: a watermark's edge
        assert not state.token_blocked
        assert (await harness.blacklist.lookup(random_key(), user)).logged is None

    async def test_a_mark_lives_its_ttl_and_blocks_nothing(self, full_harness: Harness) -> None:
        harness, key, user = full_harness, random_key(), random_user_id()
        await harness.blacklist.note_logged([LoggedEntry(key, LoggedMark(user, 1.5), 60)])
        await harness.blacklist.add([entry(key, user)])
        state = await harness.blacklist.lookup(key, user)
        assert state.token_blocked  # an entry is read beside its mark, whatever the mark says
        assert state.logged == LoggedMark(user, 1.5)
        if isinstance(harness, MemoryHarness):
            harness.clock.advance(60)
            assert (await harness.blacklist.lookup(key, user)).logged is None
        else:
            assert isinstance(harness, RedisHarness)
            await harness._assert_pttl(harness.keys.keys.logged_key(key), 60)


class TestRevoking:
    async def test_blocks_once_the_write_inside_succeeded(self, harness: Harness) -> None:
        key, user = random_key(), random_user_id()

        async with harness.blacklist.revoking([entry(key, user, ttl=90)]):
            assert not (await harness.blacklist.lookup(key, user)).token_blocked

        assert (await harness.blacklist.lookup(key, user)).token_blocked
        await harness.assert_token_lives(key, user, 90)

    async def test_blocks_nothing_when_the_write_inside_failed(self, harness: Harness) -> None:
        key, user = random_key(), random_user_id()

        with pytest.raises(RuntimeError):
            async with harness.blacklist.revoking([entry(key, user)]):
                raise RuntimeError("the durable write failed")

        assert not (await harness.blacklist.lookup(key, user)).token_blocked


class RoundTripCounter:
    """Counts a connection's writes: a round trip is one write, then reading its replies.

    It sits in the transport, below the adapter, so the adapter cannot count for itself. Server
    counters (`INFO commandstats`) are shared with every other test using this Redis, so they
    can only give a lower bound here.
    """

    def __init__(self) -> None:
        self.writes = 0
        self.replies = 0

    def install(self, client: Redis) -> None:
        counter = self

        class CountingConnection(Connection):
            async def send_packed_command(
                self, command: bytes | str | Iterable[bytes], check_health: bool = True
            ) -> None:
                counter.writes += 1
                await super().send_packed_command(command, check_health)

            async def read_response(
                self,
                disable_decoding: bool = False,
                timeout: float | None = None,  # noqa: ASYNC109 (redis-py's signature)
                *,
                disconnect_on_error: bool = True,
                push_request: bool | None = False,
            ) -> Any:
                response = await super().read_response(
                    disable_decoding,
                    timeout,
                    disconnect_on_error=disconnect_on_error,
                    push_request=push_request,
                )
                counter.replies += 1
                return response

        client.connection_pool.connection_class = CountingConnection

    def reset(self) -> None:
        self.writes = self.replies = 0


@pytest.fixture
async def counted(redis_url: str) -> AsyncIterator[tuple[RedisBlacklist, RoundTripCounter]]:
    client = build_redis_client(redis_url, redis_options(2))
    counter = RoundTripCounter()
    counter.install(client)
    await client.ping()  # the connection's handshake is not the adapter's business
    counter.reset()
    yield RedisBlacklist(client, RedisFailures()), counter
    await client.aclose()


async def stored(client: Redis, keys: list[bytes]) -> list[bytes]:
    """Which of `keys` exist, by a side door."""
    return [key for key in keys if await client.exists(key)]


async def set_calls(client: Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats["cmdstat_set"]["calls"])


@pytest.mark.redis
class TestRedisBlacklist:
    async def test_a_pending_mark_reads_pending_and_never_replaces_an_entry(
        self, redis_client: Redis
    ) -> None:
        blacklist, user, pending, blocked = (
            RedisBlacklist(redis_client, RedisFailures()),
            random_user_id(),
            random_key(),
            random_key(),
        )
        await blacklist.add([entry(blocked, user)])

        assert await blacklist.mark_pending([entry(pending, user, ttl=90)], b"?mark-1")
        assert not await blacklist.mark_pending([entry(blocked, user)], b"?mark-2")

        state = await blacklist.lookup(pending, user)
        assert (state.token_pending, state.token_blocked) == (True, False)
        assert 0 < await redis_client.ttl(blacklist.keys.token_key(pending)) <= 90
        state = await blacklist.lookup(blocked, user)
        assert (state.token_pending, state.token_blocked) == (False, True)

    async def test_replacing_marks_blocks_and_tells_whether_the_mark_held(
        self, redis_client: Redis
    ) -> None:
        blacklist, user, kept, lost = (
            RedisBlacklist(redis_client, RedisFailures()),
            random_user_id(),
            random_key(),
            random_key(),
        )
        for key in (kept, lost):
            assert await blacklist.mark_pending([entry(key, user)], b"?mine")
        await redis_client.delete(blacklist.keys.token_key(lost))  # as a flush would

        assert (await blacklist.replace_marks([entry(kept, user)], b"?mine"))[0]
        assert not (await blacklist.replace_marks([entry(lost, user)], b"?mine"))[0]
        assert not (await blacklist.replace_marks([entry(kept, user)], b"?mine"))[0]  # "1" now

        for key in (kept, lost):
            assert (await blacklist.lookup(key, user)).token_blocked

    async def test_add_of_a_thousand_entries_is_one_round_trip(
        self, counted: tuple[RedisBlacklist, RoundTripCounter], redis_client: Redis
    ) -> None:
        blacklist, counter = counted
        user = random_user_id()
        sets_before = await set_calls(redis_client)

        entries = [entry(random_key(), user) for _ in range(1000)]
        await blacklist.add(entries)

        assert (counter.writes, counter.replies) == (1, 1000)
        assert await set_calls(redis_client) - sets_before >= 1000
        keys = [blacklist.keys.token_key(added.key) for added in entries]
        assert len(await stored(redis_client, keys)) == 1000

    async def test_lookup_and_raise_watermark_are_one_round_trip_each(
        self, counted: tuple[RedisBlacklist, RoundTripCounter]
    ) -> None:
        blacklist, counter = counted
        user = random_user_id()

        await blacklist.raise_watermark(Watermark(user, 1_800_000_000.0), DAY)
        assert (counter.writes, counter.replies) == (1, 1)
        counter.reset()
        await blacklist.lookup(random_key(), user)
        assert (counter.writes, counter.replies) == (1, 1)

    async def test_identified_reads_and_writes_name_the_node_in_one_round_trip_each(
        self, counted: tuple[RedisBlacklist, RoundTripCounter], redis_client: Redis
    ) -> None:
        blacklist, counter = counted
        user, entries = random_user_id(), [entry(random_key(), 0) for _ in range(300)]
        run_id = (await redis_client.info("server"))["run_id"].encode()

        served = await blacklist.add_identified(entries)
        assert (counter.writes, set(served.values())) == (1, {run_id})
        assert len(served) == 300  # every key, over several scripts (a script holds the node)
        counter.reset()
        keys = blacklist.lookup_keys(entries[0].key, user)
        values, read_by = await blacklist.read_identified(keys)
        assert (counter.writes, counter.replies) == (1, 1)
        assert (values, read_by) == ([BLOCKED, None], dict.fromkeys(keys, run_id))

    async def test_keys_hold_no_token_text_and_all_expire(self, redis_client: Redis) -> None:
        blacklist, user = RedisBlacklist(redis_client, RedisFailures()), random_user_id()
        key = TokenKey("https://issuer.example", "jti-" + secrets.token_hex(8))
        await blacklist.raise_watermark(Watermark(user, 1.0), DAY)
        await blacklist.add([entry(key, user)])

        keys = [blacklist.keys.token_key(key), blacklist.keys.watermark_key(user)]

        assert await stored(redis_client, keys) == keys
        for raw in keys:
            assert key.jti.encode() not in raw
            assert b"issuer" not in raw
            assert len(raw) <= 40
            assert await redis_client.ttl(raw) > 0

    def test_blocked_pairs_spread_over_the_cluster_slots(self) -> None:
        blacklist = RedisBlacklist(Redis(), RedisFailures())  # builds no connection until used
        slots = {key_slot(blacklist.keys.token_key(random_key())) for _ in range(20)}
        assert len(slots) > 10  # no hash tag: no slot takes every user's entries


class TestUnreachableRedis:
    async def test_dead_redis_is_unavailable_within_a_second_and_counted(self) -> None:
        client = build_redis_client("redis://127.0.0.1:1/0", redis_options(0.5))
        failures = RedisFailures()
        await self._assert_fails_fast(RedisBlacklist(client, failures), within=1.0)
        assert failures.seen == 3  # each may have lost a write: the repair loop will see it
        await client.aclose()

    async def test_silent_redis_is_unavailable_after_one_socket_timeout(self) -> None:
        async def accept_and_say_nothing(reader: StreamReader, writer: StreamWriter) -> None:
            await reader.read()  # until the client hangs up
            writer.close()

        server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = build_redis_client(f"redis://127.0.0.1:{port}/0", redis_options(0.2))
        await self._assert_fails_fast(RedisBlacklist(client, RedisFailures()), within=0.5)
        await client.aclose()
        server.close()
        await server.wait_closed()

    @staticmethod
    async def _assert_fails_fast(blacklist: RedisBlacklist, within: float) -> None:
        user, key = random_user_id(), random_key()
        operations = [
            blacklist.lookup(key, user),
            blacklist.add([entry(key, user)]),
            blacklist.raise_watermark(Watermark(user, 1.0), DAY),
        ]
        for operation in operations:
            with pytest.raises(BlacklistUnavailable):
                # A build that retries or waits too long fails here instead of hanging the run.
                async with asyncio.timeout(within):
                    await operation
