"""The blacklist in Redis: one expiring key per blocked (iss, jti), one per user's watermark
(the layout is in `client`). A lookup is one MGET; in a Cluster, one MGET per slot of its keys
(at most two: the token's bucket and the watermark's), sent to their nodes at once. A cache
that must know which node answered reads and writes through small scripts instead, each
answering its node's run id with its values."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.crc import key_slot

from revocation.adapters.redis.client import (
    BLOCKED,
    DISTRUSTED,
    PENDING,
    RUN_ID_LUA,
    Identities,
    KeyLayout,
    RedisClient,
    RedisFailures,
    unavailable_on_error,
    vouched,
    vouched_by,
)
from revocation.adapters.redis.mirror_marker import RepairWitness
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import (
    BlacklistEntry,
    BlacklistState,
    LoggedEntry,
    LoggedMark,
    TokenKey,
    Watermark,
)
from revocation.domain.ports import Blacklist

_MICROSECONDS = 1_000_000

# Raises the watermark only when the new one is higher, so it never goes back in time; answers
# the run id of the node that ran it. Sent with EVAL, not register_script: inside a pipeline
# redis-py precedes EVALSHA with a SCRIPT EXISTS round trip, and Redis caches the compiled EVAL
# body by its SHA anyway.
_RAISE_WATERMARK = f"""
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return {RUN_ID_LUA}
"""
# The values of KEYS, then the run id of the node that read them: value and name from one
# script on one node, so a slot that moved between two commands cannot pair one node's
# answer with another node's name.
_READ_IDENTIFIED = f"""
local values = redis.call('MGET', unpack(KEYS))
values[#KEYS + 1] = {RUN_ID_LUA}
return values
"""
# SET each of KEYS to ARGV[1] for its TTL (ARGV[2 + i]), plain, NX or GET (ARGV[2]); the
# replies, then the run id of the node that took them, for the same reason.
_SET_IDENTIFIED = f"""
local replies = {{}}
for i, key in ipairs(KEYS) do
    if ARGV[2] == 'NX' or ARGV[2] == 'GET' then
        replies[i] = redis.call('SET', key, ARGV[1], 'EX', ARGV[2 + i], ARGV[2])
    else
        replies[i] = redis.call('SET', key, ARGV[1], 'EX', ARGV[2 + i])
    end
end
replies[#KEYS + 1] = {RUN_ID_LUA}
return replies
"""
_MAX_REMEMBERED_LOOKUPS = 10_000
# Keys per write script: a logout of every device can block thousands of tokens, and a script
# holds the node for its whole run.
_SCRIPT_KEYS = 128


@dataclass(frozen=True, slots=True)
class ReplicaWait:
    """How many replicas must have a revocation before it is done, and how long to wait."""

    replicas: int
    timeout_ms: int


class RedisBlacklist:
    """The `Blacklist` port on Redis: per-entry TTLs, a watermark that only rises.

    With `full_mirror` (where Redis may answer alone), each lookup also reads the full mirror's
    markers of the two buckets in the same MGET, and reports the mirror complete when both say
    a repair completed (on any primary: a cache that knows which primary serves them checks
    that with `vouched`), and the token's logged mark (in its entry's bucket).
    """

    def __init__(
        self,
        client: RedisClient,
        failures: RedisFailures,
        *,
        keys: KeyLayout = KeyLayout(),  # noqa: B008 - a frozen value
        full_mirror: bool = False,
        replica_wait: ReplicaWait | None = None,
        witness: RepairWitness | None = None,
    ) -> None:
        self._client = client
        self._failures = failures
        self._replica_wait = replica_wait
        # While a repair runs, plain writes say which node took them, for its marker.
        self._witness = witness
        self.keys = keys
        self._full_mirror = full_mirror
        self._lookup_keys: dict[tuple[TokenKey, int], tuple[bytes, ...]] = {}

    def lookup_keys(self, key: TokenKey, user_id: int) -> list[bytes]:
        """The keys one lookup reads, in the order `state_from` expects their values: the
        token's entry and the user's watermark, then, with `full_mirror`, their markers and the
        token's logged mark. Remembered for the tokens checked again and again (a digest and
        five byte strings each time cost a tenth of a cached check); a copy each time."""
        known = self._lookup_keys.get((key, user_id))
        if known is None:
            if len(self._lookup_keys) >= _MAX_REMEMBERED_LOOKUPS:
                self._lookup_keys.clear()
            known = self._lookup_keys[(key, user_id)] = self._derive_lookup_keys(key, user_id)
        return list(known)

    def _derive_lookup_keys(self, key: TokenKey, user_id: int) -> tuple[bytes, ...]:
        token, watermark = self.keys.token_key(key), self.keys.watermark_key(user_id)
        if not self._full_mirror:
            return (token, watermark)
        markers = [self.keys.marker_of(data, full=True) for data in (token, watermark)]
        return (token, watermark, *markers, self.keys.logged_key_of(token))

    @staticmethod
    def vouched(values: Sequence[bytes | None], primaries: tuple[bytes, bytes] | None) -> bool:
        """Whether the markers among `values` (of `lookup_keys`) vouch for both buckets: as
        completed on the given primaries (their run ids), or, with None, on any."""
        if len(values) < 4:
            return False
        if primaries is None:
            return vouched(values[2]) and vouched(values[3])
        return vouched_by(values[2], primaries[0]) and vouched_by(values[3], primaries[1])

    async def read(self, keys: list[bytes]) -> list[bytes | None]:
        """The keys' values in one round trip (one MGET)."""
        with unavailable_on_error(self._failures):
            if isinstance(self._client, RedisCluster):  # the keys may live on several nodes
                values = await self._client.mget_nonatomic(keys)
            else:
                values = await self._client.mget(keys)
        return _strings(values, len(keys))

    async def read_identified(self, keys: list[bytes]) -> tuple[list[bytes | None], Identities]:
        """The keys' values, and which node served each (its run id): one script per node
        (per slot in a Cluster), the scripts sent at once."""
        groups = self._by_node(keys)
        if len(groups) == 1:  # one node: the script alone, without a pipeline's overhead
            with unavailable_on_error(self._failures):
                replies = [await self._client.eval(_READ_IDENTIFIED, len(keys), *keys)]
        else:
            pipeline = self._client.pipeline(transaction=False)
            for group in groups:
                pipeline.eval(_READ_IDENTIFIED, len(group), *group)
            replies = await self._execute(pipeline)
        found: dict[bytes, bytes | None] = {}
        served: Identities = {}
        for group, reply in zip(groups, replies, strict=True):
            *values, node = _strings(reply, len(group) + 1)
            if node is None:
                raise BlacklistUnavailable("redis: a read did not say which node served it")
            for key, value in zip(group, values, strict=True):
                found[key], served[key] = value, node
        return [found[key] for key in keys], served

    def state_from(
        self, user_id: int, values: Sequence[bytes | None], *, complete: bool
    ) -> BlacklistState:
        """What the values of `lookup_keys` say, the mirror's completeness decided by the
        caller (`vouched`)."""
        blocked, micros = values[0], values[1]
        try:
            watermark = None if micros is None else Watermark(user_id, int(micros) / _MICROSECONDS)
        except ValueError as error:
            raise BlacklistUnavailable(f"redis: unreadable watermark {micros!r}") from error
        return BlacklistState(
            token_blocked=blocked is not None and not blocked.startswith(PENDING),
            watermark=watermark,
            complete=complete,
            token_pending=blocked is not None and blocked.startswith(PENDING),
            logged=_logged_mark(values[4]) if len(values) > 4 else None,
        )

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        values = await self.read(self.lookup_keys(key, user_id))
        return self.state_from(user_id, values, complete=self.vouched(values, None))

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        if self._witness is not None and self._witness.watching:
            _, served = await self._set_identified(entries, BLOCKED, wait=False)
            self._witness.saw(served)
            return
        pipeline = self._client.pipeline(transaction=False)
        for entry in entries:
            if entry.ttl_seconds > 0:  # `EX 0` is an error; an entry with no time left is moot
                pipeline.set(self.keys.token_key(entry.key), BLOCKED, ex=entry.ttl_seconds)
        await self._execute(pipeline)

    async def add_identified(self, entries: Sequence[BlacklistEntry]) -> Identities:
        """`add`, answering which node took each key."""
        _, served = await self._set_identified(entries, BLOCKED)
        return served

    @asynccontextmanager
    async def revoking(self, entries: Sequence[BlacklistEntry]) -> AsyncIterator[None]:
        yield
        await self.add(entries)

    async def mark_pending(self, entries: Sequence[BlacklistEntry], mark: bytes) -> bool:
        """Set the entries' keys to `mark` (PENDING and something unique to the caller), never
        over a value already there, each for its entry's TTL, in one round trip. True when
        every key took the mark."""
        # A mark is no revocation: no replica need have it.
        replies, _ = await self._set_identified(entries, mark, flag=b"NX", wait=False)
        return all(reply is not None for reply in replies)

    async def replace_marks(
        self, entries: Sequence[BlacklistEntry], mark: bytes
    ) -> tuple[bool, Identities]:
        """Add the entries, like `add`; True when every key still held `mark` until then: no
        flush, restart or expiry removed it meanwhile (only its writer ever writes a mark).
        Also which node took each key."""
        replies, served = await self._set_identified(entries, BLOCKED, flag=b"GET")
        return bool(replies) and all(reply == mark for reply in replies), served

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        served = await self.raise_watermark_identified(watermark, ttl_seconds)
        if self._witness is not None:
            self._witness.saw(served)

    async def note_logged(self, entries: Sequence[LoggedEntry]) -> None:
        pipeline = self._client.pipeline(transaction=False)
        for entry in entries:
            if entry.ttl_seconds > 0:
                value = b"%d:%s" % (entry.mark.user_id, repr(entry.mark.issued_at).encode())
                pipeline.set(self.keys.logged_key(entry.key), value, ex=entry.ttl_seconds)
        await self._execute(pipeline)

    async def raise_watermark_identified(
        self, watermark: Watermark, ttl_seconds: int
    ) -> Identities:
        """`raise_watermark`, answering which node took it."""
        if ttl_seconds <= 0:  # a watermark living 0 s is no watermark; `EX 0` is an error
            return {}
        micros = round(watermark.revoked_before * _MICROSECONDS)
        key = self.keys.watermark_key(watermark.user_id)
        pipeline = self._client.pipeline(transaction=False)
        pipeline.eval(_RAISE_WATERMARK, 1, key, micros, ttl_seconds)
        waits = self._wait_for_replicas(pipeline, [[key]])
        node, *acknowledged = await self._execute(pipeline)
        if not isinstance(node, bytes):
            raise BlacklistUnavailable("redis: the watermark's node did not say who it is")
        await self._check_replicated([key], acknowledged, waits)
        return {key: node}

    async def _set_identified(
        self,
        entries: Sequence[BlacklistEntry],
        value: bytes,
        *,
        flag: bytes = b"",
        wait: bool = True,
    ) -> tuple[list[bytes | None], Identities]:
        """SET each entry's key to `value` for its TTL (with `flag`: NX or GET), in one round
        trip: the replies in order, and which node took each key. With `wait`, the replicas
        too (`replica_wait`)."""
        live = [entry for entry in entries if entry.ttl_seconds > 0]
        ttl_of = {self.keys.token_key(entry.key): entry.ttl_seconds for entry in live}
        groups = [
            group[start : start + _SCRIPT_KEYS]
            for group in self._by_node(list(ttl_of))
            for start in range(0, len(group), _SCRIPT_KEYS)
        ]
        pipeline = self._client.pipeline(transaction=False)
        for group in groups:
            ttls = [ttl_of[key] for key in group]
            pipeline.eval(_SET_IDENTIFIED, len(group), *group, value, flag, *ttls)
        waits = self._wait_for_replicas(pipeline, groups) if wait else 0
        scripts_replies = await self._execute(pipeline)
        await self._check_replicated(list(ttl_of), scripts_replies[len(groups) :], waits)
        replies: dict[bytes, bytes | None] = {}
        served: Identities = {}
        for group, reply in zip(groups, scripts_replies[: len(groups)], strict=True):
            *answers, node = _strings(reply, len(group) + 1)
            if node is None:
                raise BlacklistUnavailable("redis: a write's node did not say who it is")
            for key, answer in zip(group, answers, strict=True):
                replies[key], served[key] = answer, node
        return [replies[key] for key in ttl_of], served

    def _wait_for_replicas(
        self, pipeline: Pipeline | ClusterPipeline, groups: list[list[bytes]]
    ) -> int:
        """Queue a WAIT after the writes of `groups` on each node that takes them (WAIT counts
        the writes of its own connection, and a pipeline sends a node's commands on one): the
        number of WAITs queued."""
        if self._replica_wait is None or not groups:
            return 0
        wait = (b"WAIT", self._replica_wait.replicas, self._replica_wait.timeout_ms)
        if not isinstance(self._client, RedisCluster):
            pipeline.execute_command(*wait)
            return 1
        nodes = {}
        with unavailable_on_error(self._failures):  # a slot no node serves
            for group in groups:
                # The slot map the scripts were routed by: their node.
                node = self._client.nodes_manager.get_node_from_slot(key_slot(group[0]))
                nodes[node.name] = node
        for node in nodes.values():
            pipeline.execute_command(*wait, target_nodes=node)
        return len(nodes)

    async def _check_replicated(
        self, keys: list[bytes], acknowledged: list[object], waits: int
    ) -> None:
        """Each WAIT's count of replicas that acknowledged. Short of the setting: the write
        stands on its primary, but a failover may lose it, so those buckets are not vouched for
        until a repair completes, and the write is not done."""
        if len(acknowledged) != waits:
            raise BlacklistUnavailable("redis: a WAIT went unanswered")
        if self._replica_wait is None or all(
            isinstance(count, int) and count >= self._replica_wait.replicas
            for count in acknowledged
        ):
            return
        with contextlib.suppress(BlacklistUnavailable):
            await self.distrust(keys)
        raise BlacklistUnavailable(
            f"redis: fewer than {self._replica_wait.replicas} replica(s) acknowledged within "
            f"{self._replica_wait.timeout_ms} ms"
        )

    async def distrust(self, keys: Sequence[bytes]) -> None:
        """Make the markers of `keys`' buckets vouch for nothing until a repair completes, on
        whichever node holds them now: Redis no longer answers alone for those buckets. The
        repair loop, told of a failure, repairs soon."""
        self._failures.note()
        if not self._full_mirror:
            return
        pipeline = self._client.pipeline(transaction=False)
        for marker in {self.keys.marker_of(key, full=True) for key in keys}:
            pipeline.set(marker, DISTRUSTED)
        await self._execute(pipeline)

    def _by_node(self, keys: list[bytes]) -> list[list[bytes]]:
        """The keys in groups one script can take: all of them on one Redis, one group per
        slot in a Cluster (a script's keys must share a slot there)."""
        if not isinstance(self._client, RedisCluster):
            return [keys] if keys else []
        by_slot: dict[int, list[bytes]] = {}
        for key in keys:
            by_slot.setdefault(key_slot(key), []).append(key)
        return list(by_slot.values())

    async def _execute(self, pipeline: Pipeline | ClusterPipeline) -> list[object]:
        """Send every queued command in one write, then read the replies: one round trip."""
        with unavailable_on_error(self._failures):
            replies: list[object] = await pipeline.execute()
        return replies


def _logged_mark(value: bytes | None) -> LoggedMark | None:
    """A logged mark's value (`note_logged`), exactly as written (`repr` of the float round-trips
    bit for bit); anything else is no mark: the log is asked, as when there is none."""
    user_id, _, issued_at = (value or b"").partition(b":")
    try:
        return LoggedMark(int(user_id), float(issued_at))
    except ValueError:
        return None


def _strings(reply: object, count: int) -> list[bytes | None]:
    """`count` strings (or nils) of a reply. A reply of another shape (a connection out of step
    after a fault) is no answer: never a 500, and never cached as one."""
    if not isinstance(reply, list) or len(reply) != count:
        raise BlacklistUnavailable(f"redis: {count} values expected, not {type(reply).__name__}")
    strings = [value for value in reply if value is None or isinstance(value, bytes)]
    if len(strings) != count:
        raise BlacklistUnavailable("redis: a read answered something other than strings")
    return strings


_: type[Blacklist] = RedisBlacklist
