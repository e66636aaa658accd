"""Redis Cluster with the fast path: a tracking connection to every primary, each key asked of
its slot's, and the cluster's own word on which primary serves each slot and how long each may
be trusted.

Why a window, and how long: a replica takes over its primary only after it has seen the primary
FAIL, and then waits at least 500 ms before asking for votes (a fixed delay in Redis Cluster
that lets the FAIL message spread). So if, when asked, every replica of a primary still serves
it and does not see it failed, none is promoted until 500 ms after we asked: until then what the
primary holds is the latest, and answers cached from it stand (minus a margin). A poll every
200 ms keeps the window open; a replica we cannot ask, or one that sees its primary fail or has
taken over, closes it at the next poll. A primary without replicas cannot be replaced, only
restarted (another run id).

Trust is per slot, through the markers: each bucket's marker moves with its slot and vouches
only on the node that completed its repair, so a slot that moves, a shard that restarts empty or
fails over, is asked of the database until a repair completes there; the other shards' slots
keep their fast path.

Not covered: an operator's `CLUSTER FAILOVER FORCE` or `TAKEOVER` skips that delay (a plain
`CLUSTER FAILOVER` lets the replica catch up and stops the old primary's writes first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot

from revocation.adapters.redis.client import REDIS_FAILURES, RedisFailures, RedisOptions
from revocation.adapters.redis.tracking import Address, Invalidation, TrackingListener
from revocation.adapters.serving_task import task_while_serving

logger = logging.getLogger(__name__)

SLOTS = 16384
_ELECTION_DELAY = 0.5  # Redis Cluster's least wait between a replica seeing FAIL and its vote
_MARGIN = 0.1  # of that delay: clocks and our own scheduling
# Keys whose slot the tracking remembers (about 100 bytes each beside the key, which the
# blacklist keeps anyway), dropped all at once when full.
_MAX_REMEMBERED_SLOTS = 100_000


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One line of CLUSTER NODES."""

    id: str
    address: Address
    flags: frozenset[str]
    primary_id: str | None  # what it replicates
    epoch: int
    slots: tuple[tuple[int, int], ...]  # inclusive ranges


def parse_cluster_nodes(text: str) -> list[ClusterNode]:
    """CLUSTER NODES' lines (`<id> <ip:port@cport[,host]> <flags> <primary> <ping> <pong>
    <epoch> <link> <slot ranges>`); slots being imported or migrated (`[...]`) are left out."""
    nodes = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        endpoint = fields[1].split("@", 1)[0]
        host, _, port = endpoint.rpartition(":")
        slots = []
        for part in fields[8:]:
            if part.startswith("["):
                continue
            first, _, last = part.partition("-")
            slots.append((int(first), int(last or first)))
        nodes.append(
            ClusterNode(
                id=fields[0],
                address=(host, int(port or 0)),
                flags=frozenset(fields[2].split(",")),
                primary_id=None if fields[3] == "-" else fields[3],
                epoch=int(fields[6]),
                slots=tuple(slots),
            )
        )
    return nodes


class ClusterView:
    """The cluster as its nodes describe it, polled: the primary of each slot, and until when
    each primary can be trusted (module docstring)."""

    def __init__(
        self,
        url: str,
        options: RedisOptions,
        *,
        poll_seconds: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        self._seeds = [(parts.hostname or "localhost", parts.port or 6379)]
        self._credentials = {
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "ssl": parts.scheme == "rediss",
        }
        self._options = options
        self._poll_seconds = poll_seconds
        self._monotonic = monotonic
        self._clients: dict[Address, Redis] = {}
        self._owners: list[Address | None] = [None] * SLOTS
        self._primaries: frozenset[Address] = frozenset()
        self._trusted_until: dict[Address, float] = {}
        self._known: list[Address] = []
        self._errors_logged = False
        self._polled = asyncio.Event()

    def owner(self, slot: int) -> Address | None:
        """The primary serving `slot`, as last polled."""
        return self._owners[slot]

    @property
    def primaries(self) -> frozenset[Address]:
        """The nodes serving at least one slot."""
        return self._primaries

    def confirms(self, address: Address) -> bool:
        return self._monotonic() < self._trusted_until.get(address, float("-inf"))

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Polling the nodes while inside."""
        try:
            async with task_while_serving(self._poll_forever(), "cluster-poll"):
                yield
        finally:
            for client in self._clients.values():
                await client.aclose()

    async def polled(self) -> None:
        """Once a poll has answered."""
        await self._polled.wait()

    async def _poll_forever(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self._poll_seconds)

    async def poll(self) -> None:
        """Ask every known node at once; follow the slots and confirm the primaries."""
        sent = self._monotonic()
        targets = self._known or self._seeds
        answers = await asyncio.gather(*map(self._ask, targets), return_exceptions=True)
        errors = [answer for answer in answers if isinstance(answer, BaseException)]
        self._log_errors(errors)
        views = {
            address: answer
            for address, answer in zip(targets, answers, strict=True)
            if not isinstance(answer, BaseException)
        }
        if not views:
            self._trusted_until = {}
            return
        self._owners = _owners(views)
        self._primaries = frozenset(owner for owner in self._owners if owner is not None)
        self._known = sorted(
            {node.address for view in views.values() for node in view if _reachable(node)}
        )
        until = sent + _ELECTION_DELAY * (1 - _MARGIN)
        self._trusted_until = {
            primary: until for primary in self.primaries if _confirmed(primary, views)
        }
        self._polled.set()

    async def _ask(self, address: Address) -> list[ClusterNode]:
        client = self._clients.get(address)
        if client is None:
            client = self._clients[address] = Redis(
                host=address[0],
                port=address[1],
                socket_timeout=self._options.socket_timeout,
                socket_connect_timeout=self._options.connect_timeout,
                retry=Retry(NoBackoff(), retries=0),
                decode_responses=True,
                **self._credentials,  # type: ignore[arg-type]
            )
        # The raw text: redis-py's parsed form drops fields (and types this call loosely).
        text = await client.execute_command("CLUSTER", "NODES")  # type: ignore[no-untyped-call]
        if not isinstance(text, str):
            raise TypeError(f"CLUSTER NODES answered {type(text).__name__}")
        return parse_cluster_nodes(text)

    def _log_errors(self, errors: list[BaseException]) -> None:
        """Once per spell of errors: a node that did not answer confirms nothing."""
        if errors and not self._errors_logged:
            level = logging.WARNING if isinstance(errors[0], REDIS_FAILURES) else logging.ERROR
            logger.log(level, "a cluster node did not answer (%r)", errors[0])
        self._errors_logged = bool(errors)


def _reachable(node: ClusterNode) -> bool:
    return not node.flags & {"noaddr", "handshake"} and node.address[1] != 0


def _owners(views: dict[Address, list[ClusterNode]]) -> list[Address | None]:
    """Each slot's primary: where views differ (a change spreading), the highest epoch wins, as
    it does in the cluster itself."""
    claims = {
        (node.epoch, first, last, node.address)
        for view in views.values()
        for node in view
        if "master" in node.flags and "fail" not in node.flags
        for first, last in node.slots
    }
    owners: list[Address | None] = [None] * SLOTS
    for _, first, last, address in sorted(claims):  # higher epochs write last
        owners[first : last + 1] = [address] * (last + 1 - first)
    return owners


def _confirmed(primary: Address, views: dict[Address, list[ClusterNode]]) -> bool:
    """Whether this poll confirms `primary`: it answered, as a primary; and every replica any
    node lists for it answered, still replicating it, without seeing it failed."""
    own = views.get(primary)
    me = next((node for node in own or [] if "myself" in node.flags), None)
    if me is None or "master" not in me.flags:
        return False
    replicas = {
        node.address
        for view in views.values()
        for node in view
        if node.primary_id == me.id and _reachable(node) and "fail" not in node.flags
    }
    for replica in replicas:
        view = views.get(replica)
        if view is None:
            return False
        itself = next((node for node in view if "myself" in node.flags), None)
        seen = next((node for node in view if node.id == me.id), None)
        if itself is None or itself.primary_id != me.id or seen is None or "fail" in seen.flags:
            return False
    return True


class _NodeOfCluster:
    """A `tracking.Primary` for one primary's address, confirmed by the shared view."""

    fails_over = True

    def __init__(self, view: ClusterView, address: Address) -> None:
        self._view = view
        self._address = address

    async def locate(self) -> Address:
        return self._address

    def confirms(self, address: Address) -> bool:
        return address == self._address and self._view.confirms(address)

    def superseded(self, address: Address) -> bool:
        return False  # the listener is stopped once its node serves no slot

    def watching(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()


class ClusterTracking:
    """The local cache's invalidation feed over a cluster: a `TrackingListener` per primary,
    each key answered by the listener of its slot's primary; listeners follow the primaries."""

    def __init__(
        self,
        view: ClusterView,
        url: str,
        failures: RedisFailures,
        *,
        prefixes: Sequence[bytes],
        lease_seconds: float,
        connect_timeout: float = 0.5,
    ) -> None:
        self._view = view
        self._url = url
        self._failures = failures
        self._prefixes = prefixes
        self._lease = lease_seconds
        self._connect_timeout = connect_timeout
        self._listeners: dict[Address, TrackingListener] = {}
        self._synced = False  # the primaries found first are no news
        self._subscribers: list[Callable[[Invalidation], None]] = []
        self._probe_callbacks: list[Callable[[float], None]] = []
        self._generation = 0
        # A key's slot never changes, and the check asks for the same keys again and again:
        # redis-py's CRC16 is pure Python, and it was most of what a Cluster adds to a check.
        self._slots: dict[bytes, int] = {}

    @property
    def generation(self) -> int:
        return self._generation

    def _listener_of(self, key: bytes) -> TrackingListener | None:
        slot = self._slots.get(key)
        if slot is None:
            if len(self._slots) >= _MAX_REMEMBERED_SLOTS:
                self._slots.clear()
            slot = self._slots[key] = key_slot(key)
        owner = self._view.owner(slot)
        return None if owner is None else self._listeners.get(owner)

    def node_of(self, key: bytes) -> bytes | None:
        listener = self._listener_of(key)
        return None if listener is None else listener.node_of(key)

    def trusted_node(self, key: bytes) -> bytes | None:
        listener = self._listener_of(key)
        return None if listener is None else listener.trusted_node(key)

    def trusted_nodes(self, first: bytes, second: bytes) -> tuple[bytes | None, bytes | None]:
        return self.trusted_node(first), self.trusted_node(second)

    def accepts_write(self, key: bytes, node: bytes) -> bool:
        listener = self._listener_of(key)
        return listener is not None and listener.accepts_write(key, node)

    def subscribe(self, on_invalidate: Callable[[Invalidation], None]) -> None:
        self._subscribers.append(on_invalidate)

    def on_probe(self, callback: Callable[[float], None]) -> None:
        self._probe_callbacks.append(callback)
        for listener in self._listeners.values():
            listener.on_probe(callback)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The view polled and a listener per primary while inside."""
        async with self._view.watching():
            try:
                async with task_while_serving(self._follow_primaries(), "cluster-listeners"):
                    yield
            finally:
                for listener in self._listeners.values():
                    await listener.stop()

    async def _follow_primaries(self) -> None:
        while True:
            await self._view.polled()
            await self.sync()
            await asyncio.sleep(0.2)

    async def sync(self) -> None:
        """Start a listener for each new primary, stop those of nodes no longer primaries."""
        primaries = self._view.primaries
        arrived = primaries - self._listeners.keys()
        if arrived and self._synced:  # a replica took over (or a node joined): repair at once
            self._failures.note()
            self._failures.note_data_lost()
        self._synced = self._synced or bool(primaries)
        for address in arrived:
            listener = self._listeners[address] = TrackingListener(
                self._url,
                self._failures,
                primary=_NodeOfCluster(self._view, address),
                prefixes=self._prefixes,
                lease_seconds=self._lease,
                connect_timeout=self._connect_timeout,
            )
            listener.subscribe(self._invalidate)
            for callback in self._probe_callbacks:
                listener.on_probe(callback)
            await listener.start()
        for address in self._listeners.keys() - primaries:
            await self._listeners.pop(address).stop()

    def _invalidate(self, keys: Invalidation) -> None:
        self._generation += 1
        for subscriber in self._subscribers:
            subscriber(keys)
