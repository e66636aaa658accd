"""TrackingListener against throwaway redis-servers: invalidations, the lease, and every way the
connection can die (killed client, killed server, frozen server).

A side-door client writes with redis-py; the listener reports what its own connection saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from revocation.adapters.redis.client import RedisFailures
from revocation.adapters.redis.resp3 import Resp3Parser
from revocation.adapters.redis.tracking import CLIENT_NAME, FixedPrimary, TrackingListener
from tests.integration.throwaway import ThrowawayRedis, throwaway_redis

pytestmark = pytest.mark.redis

LEASE = 0.05
PREFIXES = [b"rv{", b"rv:"]


@dataclass
class Seen:
    """What the subscriber was told, in order; None is "drop everything"."""

    calls: list[list[bytes] | None] = field(default_factory=list)

    def __call__(self, keys: Sequence[bytes] | None) -> None:
        self.calls.append(None if keys is None else list(keys))

    @property
    def keys(self) -> set[bytes]:
        return {key for call in self.calls if call is not None for key in call}

    @property
    def drops(self) -> int:
        return self.calls.count(None)


@dataclass
class Tracked:
    listener: TrackingListener
    seen: Seen
    side_door: Redis
    server: ThrowawayRedis
    failures: RedisFailures


async def eventually(check: Callable[[], bool], what: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within} s")
        await asyncio.sleep(0.002)


def random_key(prefix: bytes = b"rv:") -> bytes:
    return prefix + secrets.token_hex(8).encode()


@pytest.fixture
def server() -> Iterator[ThrowawayRedis]:
    with throwaway_redis() as throwaway:
        yield throwaway


@pytest.fixture
async def tracked(server: ThrowawayRedis) -> AsyncIterator[Tracked]:
    failures = RedisFailures()
    listener = TrackingListener(
        server.url,
        failures,
        primary=FixedPrimary(server.url),
        prefixes=PREFIXES,
        lease_seconds=LEASE,
    )
    seen = Seen()
    listener.subscribe(seen)
    side_door = Redis(port=server.port)
    await listener.start()
    await eventually(listener.lease_valid, "the first lease")
    try:
        yield Tracked(listener, seen, side_door, server, failures)
    finally:
        await listener.stop()
        await side_door.aclose()


async def invalidated(tracked: Tracked, key: bytes) -> None:
    await eventually(lambda: key in tracked.seen.keys, "the invalidation")


async def works_again(tracked: Tracked) -> None:
    await eventually(tracked.listener.lease_valid, "the lease after reconnecting")
    key = random_key()
    async with Redis(port=tracked.server.port) as fresh:
        await fresh.set(key, 1)
    await invalidated(tracked, key)


def answered_after(listener: TrackingListener, moment: float) -> Callable[[], bool]:
    """True once a PING sent after `moment` has been answered."""
    return lambda: (listener.answered_ping_sent_at or 0) > moment


async def tracking_client_id(side_door: Redis) -> int:
    clients = [c for c in await side_door.client_list() if c["name"] == CLIENT_NAME.decode()]
    assert len(clients) == 1
    return int(clients[0]["id"])


class TestInvalidations:
    async def test_set_del_and_expiry_under_either_prefix_are_delivered(
        self, tracked: Tracked
    ) -> None:
        side_door, listener = tracked.side_door, tracked.listener
        written, deleted, expiring = random_key(b"rv{"), random_key(), random_key()
        await side_door.set(deleted, 1)
        await side_door.set(expiring, 1, px=30)
        for key, write in [
            (written, side_door.set(written, 1)),
            (deleted, side_door.delete(deleted)),
            (expiring, asyncio.sleep(0)),  # Redis's active expiry removes it on its own
        ]:
            tracked.seen.calls.clear()
            generation = listener.generation
            await write
            await invalidated(tracked, key)
            assert listener.generation > generation

    async def test_keys_outside_the_prefixes_are_not_delivered(self, tracked: Tracked) -> None:
        outside = [random_key(b"other:"), random_key(b"rv"), random_key(b"xrv:")]
        for key in outside:
            await tracked.side_door.set(key, 1)
        marker = random_key()
        await tracked.side_door.set(marker, 1)  # delivered after anything written before it
        await invalidated(tracked, marker)
        assert tracked.seen.keys.isdisjoint(outside)
        assert tracked.seen.drops == 1  # the connect's, nothing since

    async def test_flushall_drops_everything_and_counts_as_a_redis_failure(
        self, tracked: Tracked
    ) -> None:
        generation, failures = tracked.listener.generation, tracked.failures.seen
        await tracked.side_door.set(random_key(), 1)  # a key's invalidation is no failure
        await tracked.side_door.flushall()
        await eventually(lambda: tracked.seen.drops == 2, "the flush")
        assert tracked.listener.generation > generation
        assert tracked.listener.connected
        assert tracked.failures.seen == failures + 1  # the repair loop will re-fill Redis
        await asyncio.wait_for(tracked.failures.next_data_loss(within=5), 0.1)  # at once

    async def test_a_failing_subscriber_does_not_stop_the_others(self, tracked: Tracked) -> None:
        def broken(keys: Sequence[bytes] | None) -> None:
            raise RuntimeError("bug")

        after = Seen()
        tracked.listener.subscribe(broken)
        tracked.listener.subscribe(after)
        key = random_key()
        await tracked.side_door.set(key, 1)
        await eventually(lambda: key in after.keys, "the later subscriber's call")
        assert tracked.listener.connected

    async def test_an_invalidation_is_handled_before_a_later_pings_pong(
        self, tracked: Tracked
    ) -> None:
        """The lease argument: a PING sent after the write's ack is answered after its push."""
        for _ in range(300):
            key = random_key()
            await tracked.side_door.set(key, 1)
            await eventually(answered_after(tracked.listener, time.monotonic()), "a later ping")
            assert key in tracked.seen.keys
        assert tracked.seen.drops == 1  # one connection throughout


class TestProbe:
    async def test_reports_the_lag_of_probe_keys_only(self, tracked: Tracked) -> None:
        lags: list[float] = []
        tracked.listener.on_probe(lags.append)
        for suffix in [b"not-a-time", b""]:
            await tracked.side_door.set(b"rv:probe:" + suffix, 1)
        await tracked.side_door.set(b"rv:probe:%d" % time.time_ns(), 1)
        await eventually(lambda: bool(lags), "a probe lag")
        await asyncio.sleep(0.05)
        assert len(lags) == 1
        assert 0 < lags[0] < 1

    async def test_a_probe_prefix_outside_the_prefixes_is_tracked_too(
        self, server: ThrowawayRedis
    ) -> None:
        listener = TrackingListener(
            server.url,
            RedisFailures(),
            primary=FixedPrimary(server.url),
            prefixes=PREFIXES,
            lease_seconds=LEASE,
            probe_prefix=b"lag:",
        )
        lags: list[float] = []
        listener.on_probe(lags.append)
        await listener.start()
        try:
            await eventually(listener.lease_valid, "the first lease")
            async with Redis(port=server.port) as side_door:
                await side_door.set(b"lag:%d" % time.time_ns(), 1)
            await eventually(lambda: bool(lags), "a probe lag")
            assert 0 < lags[0] < 1
        finally:
            await listener.stop()


class TestLease:
    async def test_lapses_within_the_lease_when_redis_freezes_and_returns_after(
        self, tracked: Tracked
    ) -> None:
        assert tracked.listener.lease_valid()
        process = tracked.server.process
        assert process is not None
        tracked.server.freeze()
        frozen_at = time.monotonic()
        try:
            await eventually(lambda: not tracked.listener.lease_valid(), "the lease lapsing")
            assert time.monotonic() - frozen_at < LEASE + 0.25  # scheduling slack, well below 1 s
            # No PONG for max(1 s, 4 x lease): the connection is given up for dead.
            await eventually(lambda: tracked.seen.drops >= 2, "giving up", within=3)
            assert not tracked.listener.connected
        finally:
            process.send_signal(signal.SIGCONT)
        await works_again(tracked)

    async def test_stop_ends_the_lease(self, tracked: Tracked) -> None:
        await tracked.listener.stop()
        assert not tracked.listener.lease_valid()
        assert not tracked.listener.connected

    async def test_authenticates_with_the_urls_password(self, server: ThrowawayRedis) -> None:
        async with Redis(port=server.port) as side_door:
            await side_door.config_set("requirepass", "s3cret")
        url = f"redis://:s3cret@127.0.0.1:{server.port}/0"
        wrong = url.replace("s3cret", "wrong")
        refused = TrackingListener(
            wrong,
            RedisFailures(),
            primary=FixedPrimary(wrong),
            prefixes=PREFIXES,
            lease_seconds=LEASE,
        )
        accepted = TrackingListener(
            url, RedisFailures(), primary=FixedPrimary(url), prefixes=PREFIXES, lease_seconds=LEASE
        )
        for listener in (refused, accepted):
            await listener.start()
        try:
            await eventually(accepted.lease_valid, "the lease with the right password")
            await asyncio.sleep(0.2)  # a few attempts
            assert not refused.connected
        finally:
            for listener in (refused, accepted):
                await listener.stop()


class TestReconnect:
    async def test_after_client_kill(
        self, tracked: Tracked, caplog: pytest.LogCaptureFixture
    ) -> None:
        killed = await tracking_client_id(tracked.side_door)
        failures = tracked.failures.seen
        await tracked.side_door.client_kill_filter(_id=str(killed))
        await eventually(lambda: tracked.seen.drops >= 2, "the drop")
        await tracked.failures.next_data_loss(within=0)  # forget any loss noted before
        await works_again(tracked)
        assert tracked.failures.seen >= failures + 2  # the drop and the reconnection
        with pytest.raises(TimeoutError):  # the same node again: it lost nothing
            await asyncio.wait_for(tracked.failures.next_data_loss(within=5), 0.1)
        assert await tracking_client_id(tracked.side_door) != killed
        warnings = [r for r in caplog.records if r.levelname == "WARNING"]
        # One per outage; a loaded machine may stall a PONG past the dead-connection cutoff
        # and cause a second one, so only the first is pinned.
        assert warnings
        assert warnings[0].name == "revocation.adapters.redis.tracking"
        assert "connection lost" in warnings[0].getMessage()

    async def test_after_redis_restarts(self, tracked: Tracked) -> None:
        connected_at_drops: list[bool] = []
        tracked.listener.subscribe(
            lambda keys: (
                connected_at_drops.append(tracked.listener.connected) if keys is None else None
            )
        )
        tracked.server.kill()
        await eventually(lambda: tracked.seen.drops >= 2, "the drop")
        assert not tracked.listener.lease_valid()
        await asyncio.sleep(0.3)  # a few failed attempts
        assert not any(connected_at_drops)
        await asyncio.to_thread(tracked.server.start)
        await works_again(tracked)
        assert connected_at_drops[-1]  # the reconnect drops whatever changed meanwhile
        # Another run id behind the connection: a repair is due at once, not at the next tick.
        await asyncio.wait_for(tracked.failures.next_data_loss(within=5), 0.1)


SCRIPTED_RUN_ID = b"0123456789abcdef0123456789abcdef01234567"
PRIMARY_ROLE = b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
REPLICA_ROLE = b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n"


@dataclass
class ScriptedRedis:
    """A RESP3 server driven by the test: it holds every ROLE (the lease's ping) until told to
    answer, as a primary."""

    port: int = 0
    unanswered_pings: int = 0
    answered_handshake: bool = False
    connections: list[asyncio.StreamWriter] = field(default_factory=list)
    tracking_commands: list[list[bytes]] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer)
        self.unanswered_pings = 0
        self.answered_handshake = False
        parser = Resp3Parser()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                for command in parser.feed(data):
                    assert isinstance(command, list)
                    self.execute([part for part in command if isinstance(part, bytes)], writer)

    def execute(self, command: list[bytes], writer: asyncio.StreamWriter) -> None:
        if command[0] == b"HELLO":
            writer.write(b"%1\r\n+proto\r\n:3\r\n")
        elif command[0] == b"CLIENT":
            self.tracking_commands.append(command)
            writer.write(b"+OK\r\n")
        elif command[0] == b"INFO":
            info = b"# Server\r\nrun_id:" + SCRIPTED_RUN_ID + b"\r\n"
            writer.write(b"=%d\r\ntxt:%s\r\n" % (len(info) + 4, info))
        elif command[0] == b"ROLE":
            if self.answered_handshake:
                self.unanswered_pings += 1
            else:  # the handshake's own ROLE
                self.answered_handshake = True
                writer.write(PRIMARY_ROLE)

    def answer_pings(self, role: bytes = b"") -> None:
        self.send((role or PRIMARY_ROLE) * self.unanswered_pings)
        self.unanswered_pings = 0

    def send(self, data: bytes) -> None:
        self.connections[-1].write(data)


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Scripted:
    listener: TrackingListener
    seen: Seen
    server: ScriptedRedis
    clock: FakeClock


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    server, clock, seen = ScriptedRedis(), FakeClock(), Seen()
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    url = f"redis://127.0.0.1:{port}"
    listener = TrackingListener(
        url,
        RedisFailures(),
        primary=FixedPrimary(url),
        prefixes=PREFIXES,
        lease_seconds=1.0,
        monotonic=clock,
    )
    listener.subscribe(seen)
    await listener.start()
    await eventually(lambda: server.unanswered_pings > 0, "the first PING")
    try:
        yield Scripted(listener, seen, server, clock)
    finally:
        await listener.stop()
        listening.close()
        for connection in server.connections:
            connection.close()
        await listening.wait_closed()


class TestAgainstAScriptedServer:
    """Exact lease arithmetic, with a fake clock and pongs released by hand."""

    async def test_the_lease_runs_from_the_pings_send_time(self, scripted: Scripted) -> None:
        server, clock, listener = scripted.server, scripted.clock, scripted.listener
        sent_at = clock.now
        assert not listener.lease_valid()  # nothing answered yet
        clock.now += 5  # a write acknowledged now: only a ping sent from now on covers it
        server.answer_pings()
        await eventually(lambda: listener.answered_ping_sent_at == sent_at, "the old pongs")
        assert not listener.lease_valid()  # answered just now, but sent 5 s ago
        await eventually(lambda: server.unanswered_pings > 0, "a ping sent after the write")
        server.answer_pings()
        await eventually(listener.lease_valid, "the lease")
        assert listener.answered_ping_sent_at == clock.now
        clock.now += 1.0
        assert listener.lease_valid()
        clock.now += 0.01
        assert not listener.lease_valid()

    async def test_asks_for_broadcast_tracking_of_the_prefixes_and_the_probe(
        self, scripted: Scripted
    ) -> None:
        assert scripted.server.tracking_commands == [
            [b"CLIENT", b"TRACKING", b"ON", b"BCAST", b"PREFIX", b"rv{", b"PREFIX", b"rv:"]
        ]

    async def test_invalidations_and_flushes_reach_the_subscriber(self, scripted: Scripted) -> None:
        generation = scripted.listener.generation
        scripted.server.send(b">2\r\n$10\r\ninvalidate\r\n*2\r\n$4\r\nrv:a\r\n$4\r\nrv:b\r\n")
        scripted.server.send(b">2\r\n$10\r\ninvalidate\r\n_\r\n")
        await eventually(lambda: len(scripted.seen.calls) == 3, "both pushes")
        assert scripted.seen.calls == [None, [b"rv:a", b"rv:b"], None]
        assert scripted.listener.generation == generation + 2

    async def test_a_server_that_stops_answering_is_given_up(self, scripted: Scripted) -> None:
        scripted.clock.now += 3.99  # not yet max(1 s, 4 x lease) since the oldest unanswered ping
        await asyncio.sleep(0.1)
        assert len(scripted.server.connections) == 1
        scripted.clock.now += 0.02
        await eventually(lambda: len(scripted.server.connections) == 2, "a new connection")
        assert scripted.seen.calls[:2] == [None, None]

    async def test_knows_the_nodes_run_id_and_trusts_it_under_the_lease(
        self, scripted: Scripted
    ) -> None:
        listener = scripted.listener
        assert listener.node_of(b"rv{t00}x") == SCRIPTED_RUN_ID
        assert listener.trusted_node(b"rv{t00}x") is None  # no lease yet
        assert listener.trusted_nodes(b"rv{t00}x", b"rv:w:1") == (None, None)
        scripted.server.answer_pings()
        await eventually(listener.lease_valid, "the lease")
        assert listener.trusted_node(b"rv{t00}x") == SCRIPTED_RUN_ID
        both = (SCRIPTED_RUN_ID, SCRIPTED_RUN_ID)  # one node serves every key
        assert listener.trusted_nodes(b"rv{t00}x", b"rv:w:1") == both
        assert listener.accepts_write(b"rv{t00}x", b"any node: one Redis takes every write")

    async def test_a_demoted_node_loses_the_lease_and_the_connection(
        self, scripted: Scripted
    ) -> None:
        scripted.server.answer_pings(REPLICA_ROLE)  # the node became a replica meanwhile
        await eventually(lambda: len(scripted.server.connections) == 2, "a new connection")
        assert not scripted.listener.lease_valid()
        assert scripted.seen.calls[:2] == [None, None]  # the cache dropped everything

    @pytest.mark.parametrize(
        "garbage", [b"?\r\n", b"-ERR no\r\n", b":1\r\n", b">2\r\n$10\r\ninvalidate\r\n:1\r\n"]
    )
    async def test_a_protocol_error_reconnects(self, scripted: Scripted, garbage: bytes) -> None:
        scripted.server.send(garbage)
        await eventually(lambda: len(scripted.server.connections) == 2, "a new connection")
        await eventually(lambda: scripted.listener.connected, "the new handshake")


async def test_redis_pys_public_api_still_loses_the_invalidated_keys(
    server: ThrowawayRedis,
) -> None:
    """Why the tracking connection reads its wire itself (`resp3`): through redis-py's public
    API, an `invalidate` push reaches the reader as None, its keys gone (a handler can only be
    set on the connection's private parser). When this fails, redis-py can carry the tracking
    connection: move it there."""
    connection = Connection(host="127.0.0.1", port=server.port, protocol=3)
    await connection.connect()  # type: ignore[no-untyped-call]  # untyped in redis-py
    try:
        await connection.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "rv:")
        assert await connection.read_response() == b"OK"
        async with Redis(port=server.port) as writer:
            await writer.set(random_key(), 1)
        async with asyncio.timeout(2):
            push = await connection.read_response(push_request=True)
        assert push is None
    finally:
        await connection.disconnect()
