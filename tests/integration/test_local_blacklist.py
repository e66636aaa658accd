"""LocallyCachedBlacklist on a real Redis: what it serves from memory, and when it must not.

A scripted feed plays the tracking listener where a test needs to order events exactly (an
invalidation overtaking the reply it concerns); the real TrackingListener on a throwaway
redis-server proves the whole loop. Shared-Redis tests only touch keys of random user ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from redis.asyncio import Redis

from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.cached_blacklist import LocallyCachedBlacklist
from revocation.adapters.redis.client import Identities, KeyLayout, RedisFailures
from revocation.adapters.redis.mirror_marker import RedisMirrorMarker
from revocation.adapters.redis.tracking import FixedPrimary, TrackingListener
from revocation.domain.errors import BlacklistUnavailable, TokenLogUnavailable
from revocation.domain.model import BlacklistEntry, TokenKey, Watermark
from tests.integration.throwaway import throwaway_redis
from tests.random_refs import random_key, random_user_id

pytestmark = pytest.mark.redis

LEASE = 0.025


def private_layout() -> KeyLayout:
    """Keys of a prefix no one else uses: these tests set mirror markers on a shared Redis."""
    return KeyLayout(prefix=b"t%d" % random_user_id())


async def run_id_of(client: Redis) -> bytes:
    info = await client.info("server")
    return str(info["run_id"]).encode()


async def vouch_everywhere(client: Redis, keys: KeyLayout) -> None:
    """What a completed full repair leaves: every bucket's marker stamped with the node."""
    done = b"done:" + await run_id_of(client)
    await client.mset({marker: done for marker in keys.markers(full=True)})


class ScriptedFeed:
    """The tracking listener's side, moved by the test."""

    def __init__(self, node: bytes) -> None:
        self.generation = 0
        self.node = node  # the run id of the node tracked
        self.lease = True
        self.confirmed = True  # the deployment still names the node its primary
        self._subscribers: list[Callable[[Sequence[bytes] | None], None]] = []

    def node_of(self, key: bytes) -> bytes | None:
        return self.node

    def trusted_node(self, key: bytes) -> bytes | None:
        return self.node if self.lease and self.confirmed else None

    def trusted_nodes(self, first: bytes, second: bytes) -> tuple[bytes | None, bytes | None]:
        return self.trusted_node(first), self.trusted_node(second)

    def accepts_write(self, key: bytes, node: bytes) -> bool:
        return node == self.node and self.confirmed

    def subscribe(self, on_invalidate: Callable[[Sequence[bytes] | None], None]) -> None:
        self._subscribers.append(on_invalidate)

    def invalidate(self, keys: Sequence[bytes] | None) -> None:
        self.generation += 1
        for subscriber in self._subscribers:
            subscriber(keys)


class OvertakenRedisBlacklist(RedisBlacklist):
    """Its reads return, then the invalidation of a write made meanwhile is handled first."""

    def __init__(self, client: Redis, feed: ScriptedFeed, keys: KeyLayout) -> None:
        super().__init__(client, RedisFailures(), keys=keys, full_mirror=True)
        self.feed = feed
        self.write_during_next_read: tuple[bytes, bytes] | None = None

    async def read_identified(self, keys: list[bytes]) -> tuple[list[bytes | None], Identities]:
        values = await super().read_identified(keys)
        if self.write_during_next_read is not None:
            key, value = self.write_during_next_read
            self.write_during_next_read = None
            await self._client.set(key, value, ex=60)  # processed after our read
            self.feed.invalidate([key])  # ...and its push handled before our reply
        return values


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


@pytest.fixture
async def feed(client: Redis) -> ScriptedFeed:
    return ScriptedFeed(await run_id_of(client))


@pytest.fixture
async def layout(client: Redis) -> KeyLayout:
    keys = private_layout()
    await vouch_everywhere(client, keys)
    return keys


def cached(
    client: Redis, feed: ScriptedFeed, keys: KeyLayout, max_entries: int = 100_000
) -> LocallyCachedBlacklist:
    inner = RedisBlacklist(client, RedisFailures(), keys=keys, full_mirror=True)
    return LocallyCachedBlacklist(inner, feed, lease_seconds=LEASE, max_entries=max_entries)


async def test_a_cached_answer_is_served_until_redis_says_it_changed(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    key, user = random_key("local-cache-tests"), random_user_id()
    blacklist = cached(client, feed, layout)
    assert not (await blacklist.lookup(key, user)).token_blocked
    token_key = layout.token_key(key)
    await client.set(token_key, 1, ex=60)  # no invalidation yet: the cache may not know
    assert not (await blacklist.lookup(key, user)).token_blocked
    feed.invalidate([token_key])
    assert (await blacklist.lookup(key, user)).token_blocked


async def test_without_a_lease_every_lookup_reads_redis_and_trusts_it_for_revoked_only(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    key, user = random_key("local-cache-tests"), random_user_id()
    blacklist = cached(client, feed, layout)
    assert (await blacklist.lookup(key, user)).complete
    feed.lease = False
    state = await blacklist.lookup(key, user)
    assert not state.complete  # "not revoked" is the log's to say now
    await client.set(layout.token_key(key), 1, ex=60)
    assert (await blacklist.lookup(key, user)).token_blocked


@pytest.mark.parametrize("shaken", ["unconfirmed", "another node"])
async def test_a_primary_not_vouched_for_is_never_trusted_alone(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout, shaken: str
) -> None:
    key, user = random_key("local-cache-tests"), random_user_id()
    blacklist = cached(client, feed, layout)
    assert (await blacklist.lookup(key, user)).complete
    if shaken == "unconfirmed":  # e.g. cut off from Sentinel's majority with its old primary
        feed.confirmed = False
    else:  # the markers were stamped by the node tracked; the reads now come from another
        feed.node = b"f" * 40
    assert not (await blacklist.lookup(key, user)).complete
    assert not (await blacklist.lookup(key, random_user_id())).complete


async def test_a_token_checked_again_and_again_is_answered_only_as_its_lease_allows(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    """Its state is remembered once made of cached values: served again only while the lease
    holds on the primaries the values came from, and never once a value changed."""
    key, user = random_key("local-cache-tests"), random_user_id()
    blacklist = cached(client, feed, layout)
    for _ in range(3):  # read, then made of cached values and remembered, then remembered
        assert (await blacklist.lookup(key, user)).complete
    feed.lease = False
    assert not (await blacklist.lookup(key, user)).complete
    feed.lease = True
    assert (await blacklist.lookup(key, user)).complete
    feed.node = b"f" * 40  # another primary now
    assert not (await blacklist.lookup(key, user)).complete


async def test_a_change_to_a_value_no_state_was_made_of_keeps_the_states(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    """Every instance hears of every write (other tokens' logouts, logged marks): only those of
    values held here may cost the remembered states."""
    key, user = random_key("local-cache-tests"), random_user_id()
    blacklist = cached(client, feed, layout)
    for _ in range(2):
        await blacklist.lookup(key, user)
    feed.invalidate([layout.token_key(random_key("another-token"))])
    assert len(blacklist._states) == 1
    feed.invalidate([layout.watermark_key(user)])
    assert len(blacklist._states) == 0


async def test_a_value_read_anew_replaces_what_a_remembered_state_was_made_of(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    key, user = random_key("local-cache-tests"), random_user_id()
    blacklist = cached(client, feed, layout)
    for _ in range(3):
        assert not (await blacklist.lookup(key, user)).token_blocked
    await client.set(layout.token_key(key), 1, ex=60)  # its push has not arrived yet
    feed.lease = False  # without a lease, Redis is read, and the value read is kept
    assert (await blacklist.lookup(key, user)).token_blocked
    feed.lease = True
    assert (await blacklist.lookup(key, user)).token_blocked


async def test_a_write_to_a_node_not_confirmed_primary_is_not_done(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    blacklist = cached(client, feed, layout)
    feed.confirmed = False
    with pytest.raises(BlacklistUnavailable):
        await blacklist.add([BlacklistEntry(random_key(), 60)])
    with pytest.raises(BlacklistUnavailable):
        await blacklist.raise_watermark(Watermark(random_user_id(), time.time()), 60)
    with pytest.raises(BlacklistUnavailable):
        async with blacklist.revoking([BlacklistEntry(random_key(), 60)]):
            pass


async def test_an_invalidation_overtaking_the_reply_leaves_nothing_stale(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    key, user = random_key("local-cache-tests"), random_user_id()
    inner = OvertakenRedisBlacklist(client, feed, layout)
    blacklist = LocallyCachedBlacklist(inner, feed, lease_seconds=LEASE)
    inner.write_during_next_read = (layout.token_key(key), b"1")
    assert not (await blacklist.lookup(key, user)).token_blocked  # the reply predates the write
    assert (await blacklist.lookup(key, user)).token_blocked  # ...and was not kept
    # Kept now: the two entries, their buckets' markers and the token's logged mark.
    assert len(blacklist) == 5


async def test_a_flush_or_reconnection_drops_everything(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    blacklist = cached(client, feed, layout)
    read: set[bytes] = set()
    for _ in range(5):
        key, user = random_key(), random_user_id()
        await blacklist.lookup(key, user)
        read.update(blacklist._redis.lookup_keys(key, user))
    assert len(blacklist) == len(read)
    for _ in range(2):  # the last one's state made of cached values, and remembered
        assert not (await blacklist.lookup(key, user)).token_blocked
    await client.set(layout.token_key(key), 1, ex=60)
    feed.invalidate(None)
    assert len(blacklist) == 0
    assert (await blacklist.lookup(key, user)).token_blocked


async def test_writes_answer_only_after_the_lease(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    key, user = random_key("local-cache-tests"), random_user_id()
    blacklist = cached(client, feed, layout)
    started = time.monotonic()
    await blacklist.add([BlacklistEntry(key, 60)])
    assert time.monotonic() - started >= LEASE
    started = time.monotonic()
    await blacklist.raise_watermark(Watermark(user, time.time()), 60)
    assert time.monotonic() - started >= LEASE
    started = time.monotonic()
    async with blacklist.revoking([BlacklistEntry(random_key(), 60)]):
        pass
    assert time.monotonic() - started >= LEASE
    state = await blacklist.lookup(key, user)  # its own writes are not served stale either
    assert state.token_blocked
    assert state.watermark is not None


async def test_revoking_marks_pending_around_the_durable_write_then_blocks(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    key, user = random_key("local-cache-tests"), random_user_id()
    inner = RedisBlacklist(client, RedisFailures(), keys=layout, full_mirror=True)
    blacklist = LocallyCachedBlacklist(inner, feed, lease_seconds=LEASE)
    async with blacklist.revoking([BlacklistEntry(key, 60)]):
        state = await inner.lookup(key, user)  # what any other instance reads meanwhile
        assert (state.token_pending, state.token_blocked) == (True, False)
    state = await inner.lookup(key, user)
    assert (state.token_pending, state.token_blocked) == (False, True)
    assert 0 < await client.ttl(layout.token_key(key)) <= 60


async def test_a_failed_durable_write_leaves_pending_and_writes_no_entry(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    key, user = random_key("local-cache-tests"), random_user_id()
    inner = RedisBlacklist(client, RedisFailures(), keys=layout)
    blacklist = LocallyCachedBlacklist(inner, feed, lease_seconds=LEASE)
    with pytest.raises(TokenLogUnavailable):
        async with blacklist.revoking([BlacklistEntry(key, 60)]):
            raise TokenLogUnavailable("the log's commit failed")
    state = await inner.lookup(key, user)  # checks ask the log, which says "not blocked"
    assert (state.token_pending, state.token_blocked) == (True, False)


async def test_redis_down_still_runs_the_durable_write_then_fails() -> None:
    key = random_key("local-cache-tests")
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    blacklist = LocallyCachedBlacklist(
        RedisBlacklist(client, RedisFailures()), ScriptedFeed(b"none"), lease_seconds=LEASE
    )
    committed = False
    with pytest.raises(BlacklistUnavailable):
        async with blacklist.revoking([BlacklistEntry(key, 60)]):
            committed = True
    assert committed
    await client.aclose()


async def test_stays_within_its_bound(client: Redis, feed: ScriptedFeed, layout: KeyLayout) -> None:
    key = random_key("local-cache-tests")
    blacklist = cached(client, feed, layout, max_entries=30)
    for _ in range(40):
        await blacklist.lookup(key, random_user_id())
        assert len(blacklist) <= 30


async def test_the_markers_are_cached_and_invalidated_like_the_rest(
    client: Redis, feed: ScriptedFeed, layout: KeyLayout
) -> None:
    key = random_key("local-cache-tests")
    blacklist = cached(client, feed, layout)
    assert (await blacklist.lookup(key, random_user_id())).complete
    marker = layout.marker_of(layout.token_key(key), full=True)
    await client.delete(marker)  # a restart or a flush, whose push has not arrived yet
    user = random_user_id()
    await blacklist.lookup(key, user)  # its own keys are new, the marker is served cached
    feed.invalidate([marker])
    assert not (await blacklist.lookup(key, user)).complete


class CountingRedisBlacklist(RedisBlacklist):
    reads = 0

    async def read_identified(self, keys: list[bytes]) -> tuple[list[bytes | None], Identities]:
        self.reads += 1
        return await super().read_identified(keys)


async def test_with_real_tracking_a_write_acknowledged_then_waited_is_always_seen() -> None:
    """The whole loop: another client writes; after ack + lease every cached read sees it."""
    key, keys = random_key("local-cache-tests"), KeyLayout()
    with throwaway_redis() as server:
        listener = TrackingListener(
            server.url,
            RedisFailures(),
            primary=FixedPrimary(server.url),
            prefixes=keys.tracked_prefixes,
            lease_seconds=LEASE,
        )
        reader = Redis.from_url(server.url)
        writer = Redis.from_url(server.url)
        inner = CountingRedisBlacklist(reader, RedisFailures(), keys=keys, full_mirror=True)
        blacklist = LocallyCachedBlacklist(inner, listener, lease_seconds=LEASE)
        await listener.start()
        try:
            await vouch_everywhere(writer, keys)
            users = [random_user_id() for _ in range(200)]
            served_from_memory = trusted_alone = 0

            async def hammer(stop: asyncio.Event) -> None:
                while not stop.is_set():  # keeps every user's keys cached meanwhile
                    for user in users:
                        await blacklist.lookup(key, user)

            stop = asyncio.Event()
            background = asyncio.create_task(hammer(stop))
            for user in users:
                await writer.set(keys.token_key(key), 1, ex=60)
                await asyncio.sleep(LEASE)  # what a logout does before it answers
                reads_before = inner.reads
                state = await blacklist.lookup(key, user)
                served_from_memory += inner.reads == reads_before
                trusted_alone += state.complete  # the lease may lapse: this loop starves it
                assert state.token_blocked, f"stale cached answer for user {user}"
            stop.set()
            await background
            assert served_from_memory > 0  # the cache was really in play
            assert trusted_alone > 0
        finally:
            await listener.stop()
            await reader.aclose()
            await writer.aclose()


class LaggingProxy:
    """A loopback TCP proxy that delivers Redis' bytes to the client late, or not at all.

    Only the server-to-client direction is held back, in order: a tracking connection behind it
    gets its PONGs and its invalidation pushes `lag` seconds late, or never while stalled.
    """

    def __init__(self, upstream_port: int, lag: float) -> None:
        self.upstream_port = upstream_port
        self.lag = lag
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> LaggingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [client_w, server_w]
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        for pump in (
            self._forward(client_r, server_w),
            self._collect(server_r, queue),
            self._deliver(queue, client_w),
        ):
            task = asyncio.create_task(pump)
            self._tasks.add(task)

    @staticmethod
    async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)

    async def _collect(
        self, reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + self.lag, data))

    async def _deliver(
        self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self.flowing.wait()
            writer.write(data)


async def two_instances(
    proxy_url: str, direct_url: str
) -> tuple[TrackingListener, LocallyCachedBlacklist, LocallyCachedBlacklist, list[Redis]]:
    """A reader whose tracking runs through the proxy, and a writer on another connection."""
    clients = [Redis.from_url(direct_url), Redis.from_url(direct_url)]
    keys = KeyLayout()
    listener = TrackingListener(
        proxy_url,
        RedisFailures(),
        primary=FixedPrimary(proxy_url),
        prefixes=keys.tracked_prefixes,
        lease_seconds=LEASE,
    )
    reader = LocallyCachedBlacklist(
        RedisBlacklist(clients[0], RedisFailures(), keys=keys, full_mirror=True),
        listener,
        lease_seconds=LEASE,
    )
    writer = LocallyCachedBlacklist(  # the writing instance's own cache plays no part here
        RedisBlacklist(clients[1], RedisFailures(), keys=keys, full_mirror=True),
        ScriptedFeed(await run_id_of(clients[1])),
        lease_seconds=LEASE,
    )
    await vouch_everywhere(clients[1], keys)
    await listener.start()
    deadline = time.monotonic() + 5
    while not listener.lease_valid():
        assert time.monotonic() < deadline, "the lease never started"
        await asyncio.sleep(0.005)
    return listener, reader, writer, clients


async def log_out(
    writer: LocallyCachedBlacklist,
    reader: LocallyCachedBlacklist,
    key: TokenKey,
    user: int,
    commit: float,
) -> None:
    """A logout's writes: pending, a commit of `commit` seconds during which the reader
    looks, the entry."""
    async with writer.revoking([BlacklistEntry(key, 60)]):
        await reader.lookup(key, user)  # may cache "pending", or still "not blocked"
        await asyncio.sleep(commit)


@pytest.mark.parametrize("stalled", [False, True], ids=["invalidations-late", "stalled"])
# A quick commit: the lease wait follows the entry's write. A commit nearly a lease long: the
# answer follows the entry's write at once, and only a lease counted from the mark makes it safe.
@pytest.mark.parametrize("write", ["add", "revoking", "revoking-slow-commit"])
async def test_a_late_invalidation_never_serves_a_revoked_token_after_the_logout(
    stalled: bool, write: str
) -> None:
    """Late by less than the lease: the writer's wait covers it. Stalled: the lease lapses."""
    key = random_key("local-cache-tests")
    with throwaway_redis() as server:
        async with LaggingProxy(server.port, lag=LEASE / 2) as proxy:
            listener, reader, writer, clients = await two_instances(
                f"redis://127.0.0.1:{proxy.port}/0", server.url
            )
            try:
                users = [random_user_id() for _ in range(40)]
                for user in users:  # cached: not blocked
                    assert not (await reader.lookup(key, user)).token_blocked
                assert listener.lease_valid()  # a lag under the lease keeps the cache in use
                if stalled:
                    proxy.flowing.clear()
                for user in users:
                    if write == "add":
                        await writer.add([BlacklistEntry(key, 60)])  # after the wait
                    else:
                        commit = LEASE * 0.9 if write == "revoking-slow-commit" else 0.0
                        await log_out(writer, reader, key, user, commit)
                    state = await reader.lookup(key, user)  # pending: the check asks the log
                    assert state.token_blocked or state.token_pending, f"user {user}"
            finally:
                await listener.stop()
                for client in clients:
                    await client.aclose()


async def test_a_flush_during_the_commit_makes_the_lease_run_from_the_entry() -> None:
    """The mark went with a flush, a repair set the marker again, and a reader cached the key's
    absence: once the logout answers, that reader must not serve it (invalidations late)."""
    key = random_key("local-cache-tests")
    with throwaway_redis() as server:
        async with LaggingProxy(server.port, lag=LEASE / 2) as proxy:
            listener, reader, writer, clients = await two_instances(
                f"redis://127.0.0.1:{proxy.port}/0", server.url
            )
            try:
                for user in [random_user_id() for _ in range(10)]:
                    async with writer.revoking([BlacklistEntry(key, 60)]):
                        await clients[1].flushall()
                        await vouch_everywhere(clients[1], KeyLayout())  # a quick repair
                        await asyncio.sleep(LEASE)  # the flush has reached the reader
                        state = await reader.lookup(key, user)  # cached: absent, mirror done
                        assert (state.token_blocked, state.token_pending) == (False, False)
                        await asyncio.sleep(LEASE)  # the rest of a slow commit
                    state = await reader.lookup(key, user)
                    assert state.token_blocked or state.token_pending, f"user {user}"
            finally:
                await listener.stop()
                for client in clients:
                    await client.aclose()


async def test_the_markers_say_done_only_a_lease_after_the_repairs_writes(
    client: Redis,
) -> None:
    markers = private_layout().markers(full=True)
    marker = RedisMirrorMarker(client, RedisFailures(), markers=markers, settle_seconds=LEASE)
    ticket = await marker.begin()
    started = time.monotonic()
    assert await marker.complete(ticket)
    assert time.monotonic() - started >= LEASE
    assert await marker.is_complete()
    await client.delete(*markers)
