"""The "mirror complete" markers, one per bucket (client.KeyLayout): what a restart, a flush or
a failover takes away, or makes vouch for nothing.

A repair sets each marker to a ticket stamped with the run id of the node holding it before it
pushes, and to "done:<that run id>" after, only if that ticket is still there on that same node:
if Redis lost its data meanwhile (or another repair began, or another node became the primary),
"done" is refused and a later tick repairs again. A marker vouches only on the node whose run id
it carries: a promoted replica (whatever it copied), a restarted node, or the new owner of a
migrated slot does not have it.

Nor is "done" stamped on a node that did not take every one of its bucket's writes while the
repair ran (`RepairWitness`): a write that went to another node (a deposed primary still
reachable through an old connection, or a stale slot map) is missing where the marker would
vouch for it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence

from revocation.adapters.redis.client import (
    RUN_ID_LUA,
    RedisClient,
    RedisFailures,
    outlive_leases,
    unavailable_on_error,
)
from revocation.domain.ports import MirrorMarker

_BEGIN = f"""
redis.call('SET', KEYS[1], 'pending:' .. ARGV[1] .. ':' .. {RUN_ID_LUA})
return 1
"""
# Compare-and-set: only the repair whose ticket is still there, on the same node, is done;
# ARGV[2], when not empty, is the node that took the bucket's writes: it must be this one.
_COMPLETE = f"""
local node = {RUN_ID_LUA}
if ARGV[2] ~= '' and ARGV[2] ~= node then
    return 0
end
if redis.call('GET', KEYS[1]) == 'pending:' .. ARGV[1] .. ':' .. node then
    redis.call('SET', KEYS[1], 'done:' .. node)
    return 1
end
return 0
"""
_VOUCHES = f"""
if redis.call('GET', KEYS[1]) == 'done:' .. {RUN_ID_LUA} then
    return 1
end
return 0
"""


class RepairWitness:
    """Which nodes took each bucket's writes since a repair began (between the marker's
    `begin` and `complete`), as the blacklist's identified writes report them."""

    def __init__(self, marker_of: Callable[[bytes], bytes]) -> None:
        self._marker_of = marker_of
        self._nodes: dict[bytes, set[bytes]] | None = None  # None: no repair running

    def begin(self) -> None:
        self._nodes = {}

    @property
    def watching(self) -> bool:
        return self._nodes is not None

    def saw(self, served: Mapping[bytes, bytes]) -> None:
        """Keys written, and the node that took each."""
        if self._nodes is None:
            return
        for key, node in served.items():
            self._nodes.setdefault(self._marker_of(key), set()).add(node)

    def end(self) -> dict[bytes, set[bytes]]:
        """Each bucket's marker -> the nodes that took its writes; the watch ends."""
        nodes, self._nodes = self._nodes or {}, None
        return nodes


class RedisMirrorMarker:
    """The buckets' markers in Redis (no TTL: only a restart, a flush, an eviction or another
    primary unmakes them)."""

    def __init__(
        self,
        client: RedisClient,
        failures: RedisFailures,
        *,
        markers: Sequence[bytes],
        settle_seconds: float = 0,
        witness: RepairWitness | None = None,
    ) -> None:
        self._client = client
        self._failures = failures
        self._markers = list(markers)
        self._witness = witness
        # With local caches (REVOCATION_CACHE=local): how long the repair's writes need to
        # reach every cache before any of them may trust Redis alone (the lease).
        self._settle = settle_seconds

    async def is_complete(self) -> bool:
        return await self._on_every_marker(_VOUCHES)

    async def begin(self) -> str:
        ticket = secrets.token_hex(8)
        if self._witness is not None:
            self._witness.begin()
        await self._on_every_marker(_BEGIN, lambda _: (ticket,))
        return ticket

    async def complete(self, ticket: str) -> bool:
        written = self._witness.end() if self._witness is not None else {}
        if any(len(nodes) > 1 for nodes in written.values()):
            return False  # a bucket's writes went to two nodes: one of them lacks some
        if self._settle:
            await outlive_leases(time.monotonic(), self._settle)  # the pushes were acknowledged

        def args(marker: bytes) -> tuple[str | bytes, ...]:
            return ticket, next(iter(written.get(marker, ())), b"")

        return await self._on_every_marker(_COMPLETE, args)

    async def _on_every_marker(
        self, script: str, args: Callable[[bytes], tuple[str | bytes, ...]] = lambda _: ()
    ) -> bool:
        """Run `script` on each marker with its `args`, in one pipeline (one batch per node);
        True when every one answered 1."""
        pipeline = self._client.pipeline(transaction=False)
        for marker in self._markers:
            pipeline.eval(script, 1, marker, *args(marker))
        with unavailable_on_error(self._failures):
            replies = await pipeline.execute()
        return all(reply == 1 for reply in replies)


_: type[MirrorMarker] = RedisMirrorMarker
