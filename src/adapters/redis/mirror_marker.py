"""The "mirror complete" markers, one per bucket (client.KeyLayout): what a restart, a flush or
a failover takes away, or makes vouch for nothing.

A repair sets each marker to a ticket stamped with the run id of the node holding it before it
pushes, and to "done:<that run id>" after, only if that ticket is still there on that same node:
if Redis lost its data meanwhile (or another repair began, or another node became the primary),
"done" is refused and a later tick repairs again. A marker vouches only on the node whose run id
it carries: a promoted replica (whatever it copied), a restarted node, or the new owner of a
migrated slot does not have it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

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
# Compare-and-set: only the repair whose ticket is still there, on the same node, is done.
_COMPLETE = f"""
local node = {RUN_ID_LUA}
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
    ) -> None:
        self._client = client
        self._failures = failures
        self._markers = list(markers)
        # With local caches (REVOCATION_CACHE=local): how long the repair's writes need to
        # reach every cache before any of them may trust Redis alone (the lease).
        self._settle = settle_seconds

    async def is_complete(self) -> bool:
        return await self._on_every_marker(_VOUCHES)

    async def begin(self) -> str:
        ticket = secrets.token_hex(8)
        await self._on_every_marker(_BEGIN, ticket)
        return ticket

    async def complete(self, ticket: str) -> bool:
        if self._settle:
            await outlive_leases(time.monotonic(), self._settle)  # the pushes were acknowledged
        return await self._on_every_marker(_COMPLETE, ticket)

    async def _on_every_marker(self, script: str, *args: str) -> bool:
        """Run `script` on each marker, in one pipeline (one batch per node); True when every
        one answered 1."""
        pipeline = self._client.pipeline(transaction=False)
        for marker in self._markers:
            pipeline.eval(script, 1, marker, *args)
        with unavailable_on_error(self._failures):
            replies = await pipeline.execute()
        return all(reply == 1 for reply in replies)


_: type[MirrorMarker] = RedisMirrorMarker
